//! `bkrepo-auth-realm`: bk-ci authenticates against bk-repo through bk-repo's `devops` realm; the
//! guide (对接制品库) checks `.auth.realm` in the `bk-repo-bkrepo-auth` ConfigMap. With any other
//! realm bk-ci's artifact calls are refused. Fixing the value alone is not enough: the Deployment
//! does not change, so the auth pods keep the old configuration until restarted.

use serde_yaml_ng::Value;

use super::Ctx;
use super::site;
use crate::findings::Finding;

pub const ID: &str = "bkrepo-auth-realm";

const CM_SUFFIX: &str = "-bkrepo-auth";
const KEY: &str = "application.yml";
const CI: &str = "bk-ci";
const REALM: &str = "devops";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    if !site::release(&ctx.releases, CI).is_some_and(site::installed) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for cm in &ctx.snap.config_maps {
        let (Some(ns), Some(name)) = (
            cm.metadata.namespace.as_deref(),
            cm.metadata.name.as_deref(),
        ) else {
            continue;
        };
        let Some(release) = name.strip_suffix(CM_SUFFIX) else {
            continue;
        };
        let Some(text) = cm.data.as_ref().and_then(|d| d.get(KEY)) else {
            continue;
        };
        // A file that does not parse says nothing about the realm.
        let Ok(doc) = serde_yaml_ng::from_str::<Value>(text) else {
            continue;
        };
        let realm = doc.get("auth").and_then(|a| a.get("realm"));
        let shown = match realm {
            Some(Value::String(s)) if s == REALM => continue,
            Some(Value::String(s)) => s.clone(),
            Some(v) => serde_yaml_ng::to_string(v)
                .unwrap_or_default()
                .trim()
                .to_string(),
            None => "null".to_string(),
        };
        let release = cm
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app.kubernetes.io/instance"))
            .map_or(release, String::as_str);
        let mut f = ctx.finding(
            ID,
            Some(ns),
            format!("configmap/{name}"),
            &[("release", release)],
        );
        f.evidence.push(ctx.text(
            ID,
            "realm",
            &[("configmap", name), ("namespace", ns), ("realm", &shown)],
        ));
        f.remediation
            .push(ctx.text(ID, "values", &[("release", release)]));
        f.remediation.push(format!(
            "helm get values -n {ns} {release} | yq e '.auth.config.realm' -"
        ));
        f.remediation
            .push(ctx.text(ID, "set", &[("release", release)]));
        f.remediation.push(format!(
            "helmfile -f base-blueking.yaml.gotmpl -l name={release} sync"
        ));
        f.remediation.push(ctx.text(ID, "restart", &[]));
        f.remediation
            .push(format!("kubectl rollout restart deployment -n {ns} {name}"));
        out.push(f);
    }
    out
}
