//! `webhook-unavailable`: an admission webhook (Validating/MutatingWebhookConfiguration) calls a
//! Service that does not exist or has no ready endpoint. With `failurePolicy: Fail` (the default)
//! every create or update of the kinds it watches is refused with `failed calling webhook`, and
//! helm reports only a failed install. ingress-nginx's admission webhook left behind by a
//! controller that died or was uninstalled is the case BlueKing sites meet. A webhook with
//! `failurePolicy: Ignore`, or one calling a URL, is not judged.

use k8s_openapi::api::admissionregistration::v1::{RuleWithOperations, ServiceReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Ctx, endpoints};
use crate::findings::Finding;
use crate::snapshot::meta;

pub const ID: &str = "webhook-unavailable";

/// One webhook of a configuration, reduced to what the rule reads.
struct Hook<'a> {
    name: &'a str,
    service: Option<&'a ServiceReference>,
    ignore: bool,
    rules: Option<&'a Vec<RuleWithOperations>>,
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &ctx.snap.validating_webhooks {
        let hooks = c.webhooks.iter().flatten().map(|h| Hook {
            name: &h.name,
            service: h.client_config.service.as_ref(),
            ignore: h.failure_policy.as_deref() == Some("Ignore"),
            rules: h.rules.as_ref(),
        });
        out.extend(judge(
            ctx,
            "validatingwebhookconfiguration",
            &c.metadata,
            hooks,
        ));
    }
    for c in &ctx.snap.mutating_webhooks {
        let hooks = c.webhooks.iter().flatten().map(|h| Hook {
            name: &h.name,
            service: h.client_config.service.as_ref(),
            ignore: h.failure_policy.as_deref() == Some("Ignore"),
            rules: h.rules.as_ref(),
        });
        out.extend(judge(
            ctx,
            "mutatingwebhookconfiguration",
            &c.metadata,
            hooks,
        ));
    }
    out
}

fn judge<'a>(
    ctx: &Ctx,
    kind: &str,
    m: &ObjectMeta,
    hooks: impl Iterator<Item = Hook<'a>>,
) -> Option<Finding> {
    let name = meta::name(m);
    let mut evidence = Vec::new();
    let mut services = Vec::new();
    for h in hooks.filter(|h| !h.ignore) {
        let Some(svc) = h.service else { continue };
        let (ns, s) = (svc.namespace.as_str(), svc.name.as_str());
        let watched = watched(h.rules);
        if endpoints::service(ctx.snap, ns, s).is_none() {
            evidence.push(ctx.text(
                ID,
                "no_service",
                &[
                    ("webhook", h.name),
                    ("service", s),
                    ("namespace", ns),
                    ("kinds", &watched),
                ],
            ));
        } else if endpoints::known(ctx.snap) && endpoints::ready_count(ctx.snap, ns, s) == 0 {
            evidence.push(ctx.text(
                ID,
                "no_endpoint",
                &[
                    ("webhook", h.name),
                    ("service", s),
                    ("namespace", ns),
                    ("kinds", &watched),
                ],
            ));
        } else {
            continue;
        }
        if !services.contains(&(ns, s)) {
            services.push((ns, s));
        }
    }
    if evidence.is_empty() {
        return None;
    }
    let object = format!("{kind}/{name}");
    let mut f = ctx.finding(ID, None, object, &[("config", name)]);
    f.evidence = evidence;
    let release = meta::releases(m).next();
    if let Some(r) = release {
        f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
    }
    for (ns, s) in &services {
        f.remediation.push(format!(
            "kubectl get endpointslices -n {ns} -l kubernetes.io/service-name={s}"
        ));
    }
    f.remediation.push(ctx.text(ID, "delete", &[]));
    f.remediation.push(format!("kubectl delete {kind} {name}"));
    f.remediation.push(match release {
        Some(r) => ctx.text(ID, "then_sync", &[("release", r)]),
        None => ctx.text(ID, "then_reinstall", &[]),
    });
    Some(f)
}

/// `ingresses (CREATE, UPDATE)`: what the webhook's refusals stop.
fn watched(rules: Option<&Vec<RuleWithOperations>>) -> String {
    let mut kinds: Vec<String> = rules
        .into_iter()
        .flatten()
        .flat_map(|r| r.resources.iter().flatten().cloned())
        .collect();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() {
        "-".to_string()
    } else {
        kinds.join(", ")
    }
}
