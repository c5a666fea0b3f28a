//! `saas-ingress-class`: a SaaS app's traffic goes client → gateway → ingress-nginx →
//! bk-ingress-nginx → the app's Service. The app's Ingresses in its `bkapp-*` namespace must be
//! read by bk-ingress-nginx (class `bk-ingress-nginx`; `nginx` for an app's own domain, as the
//! guide's 404/502 checklist says); with any other class, or none, nobody serves them.

use super::Ctx;
use super::site;
use crate::findings::Finding;

pub const ID: &str = "saas-ingress-class";

pub const SAAS_NS_PREFIX: &str = "bkapp-";
const CLASSES: &[&str] = &["bk-ingress-nginx", "nginx"];
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for i in &ctx.snap.ingresses {
        let (ns, name) = (site::ingress_ns(i), site::ingress_name(i));
        if !ns.starts_with(SAAS_NS_PREFIX) {
            continue;
        }
        let class = i
            .spec
            .as_ref()
            .and_then(|s| s.ingress_class_name.as_deref())
            .or_else(|| {
                i.metadata
                    .annotations
                    .as_ref()?
                    .get(CLASS_ANNOTATION)
                    .map(String::as_str)
            });
        if class.is_some_and(|c| CLASSES.contains(&c)) {
            continue;
        }
        let hosts: Vec<&str> = site::ingress_hosts(i).collect();
        let mut f = ctx.finding(
            ID,
            Some(ns),
            format!("ingress/{name}"),
            &[("ingress", name)],
        );
        f.evidence.push(match class {
            Some(c) => ctx.text(ID, "has_class", &[("ingress", name), ("class", c)]),
            None => ctx.text(ID, "no_class", &[("ingress", name)]),
        });
        if !hosts.is_empty() {
            f.evidence
                .push(ctx.text(ID, "hosts", &[("hosts", &hosts.join(", "))]));
        }
        f.remediation.push(ctx.text(ID, "look", &[]));
        f.remediation.push(format!(
            "kubectl get ingress -n {ns} {name} -o jsonpath='{{.spec.ingressClassName}} {{.metadata.annotations}}{{\"\\n\"}}'"
        ));
        f.remediation.push(ctx.text(ID, "redeploy", &[]));
        out.push(f);
    }
    out
}
