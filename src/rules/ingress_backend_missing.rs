//! `ingress-backend-missing`: an Ingress names what does not exist — a backend Service, or a port
//! that Service does not have (the controller answers 503), a TLS Secret (it serves its default
//! certificate), an `ingressClassName` no IngressClass has, or no class while no IngressClass is
//! the default (no controller serves it). Judges Services, Secrets and classes only when the
//! snapshot holds their kind; SaaS apps' classes are `saas-ingress-class`'s.

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

use super::saas_ingress_class::SAAS_NS_PREFIX;
use super::{Ctx, endpoints};
use crate::findings::Finding;
use crate::snapshot::{meta, secret};

pub const ID: &str = "ingress-backend-missing";

const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for i in &ctx.snap.ingresses {
        let (ns, name) = (meta::namespace(&i.metadata), meta::name(&i.metadata));
        let mut evidence = Vec::new();
        let mut missing_services = Vec::new();
        // No Service at all in its namespace: the snapshot did not carry them (a partial
        // kubectl dump), and every backend would look missing.
        let services_read = ctx
            .snap
            .services
            .iter()
            .any(|s| meta::namespace(&s.metadata) == ns);
        for b in backends(i).filter(|_| services_read) {
            let Some(svc) = b.service.as_ref() else {
                continue;
            };
            let port = svc
                .port
                .as_ref()
                .and_then(|p| p.name.clone().or_else(|| p.number.map(|n| n.to_string())));
            match endpoints::service(ctx.snap, ns, &svc.name) {
                None => {
                    let line = ctx.text(ID, "no_service", &[("service", &svc.name)]);
                    if !evidence.contains(&line) {
                        evidence.push(line);
                        missing_services.push(svc.name.clone());
                    }
                }
                Some(s) => {
                    let ports = s.spec.as_ref().and_then(|p| p.ports.as_ref());
                    let has = |p: &str| {
                        ports
                            .into_iter()
                            .flatten()
                            .any(|sp| sp.name.as_deref() == Some(p) || sp.port.to_string() == p)
                    };
                    if let Some(p) = port.filter(|p| !has(p)) {
                        let line = ctx.text(ID, "no_port", &[("service", &svc.name), ("port", &p)]);
                        if !evidence.contains(&line) {
                            evidence.push(line);
                        }
                    }
                }
            }
        }
        if !ctx.snap.secrets.is_empty() {
            for tls in i.spec.iter().flat_map(|s| s.tls.iter().flatten()) {
                let Some(s) = tls.secret_name.as_deref() else {
                    continue;
                };
                if !secret::exists(&ctx.snap.secrets, ns, s) {
                    evidence.push(ctx.text(ID, "no_secret", &[("secret", s)]));
                }
            }
        }
        if !ctx.snap.ingress_classes.is_empty() && !ns.starts_with(SAAS_NS_PREFIX) {
            class_gaps(ctx, i, &mut evidence);
        }
        if evidence.is_empty() {
            continue;
        }
        let mut f = ctx.finding(
            ID,
            Some(ns),
            format!("ingress/{name}"),
            &[("ingress", name)],
        );
        f.evidence = evidence;
        if let Some(r) = meta::releases(&i.metadata).next() {
            f.evidence.push(ctx.text(ID, "release", &[("release", r)]));
        }
        f.remediation
            .push(format!("kubectl describe ingress -n {ns} {name}"));
        f.remediation.push(ctx.text(ID, "fix", &[]));
        out.push(f);
    }
    out
}

fn backends(i: &Ingress) -> impl Iterator<Item = &IngressBackend> {
    let spec = i.spec.as_ref();
    spec.and_then(|s| s.default_backend.as_ref())
        .into_iter()
        .chain(
            spec.and_then(|s| s.rules.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|r| r.http.as_ref())
                .flat_map(|h| h.paths.iter().map(|p| &p.backend)),
        )
}

fn class_gaps(ctx: &Ctx, i: &Ingress, evidence: &mut Vec<String>) {
    let named = i
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref());
    let annotated = i
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CLASS_ANNOTATION));
    let classes = &ctx.snap.ingress_classes;
    match (named, annotated) {
        (Some(c), _) => {
            if !classes.iter().any(|k| meta::name(&k.metadata) == c) {
                let known: Vec<&str> = classes.iter().map(|k| meta::name(&k.metadata)).collect();
                evidence.push(ctx.text(
                    ID,
                    "no_class",
                    &[("class", c), ("classes", &known.join(", "))],
                ));
            }
        }
        // The annotation predates IngressClass; controllers still honour it.
        (None, Some(_)) => {}
        (None, None) => {
            let default = classes.iter().any(|k| {
                k.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                    .is_some_and(|v| v == "true")
            });
            if !default {
                let known: Vec<&str> = classes.iter().map(|k| meta::name(&k.metadata)).collect();
                evidence.push(ctx.text(ID, "no_default", &[("classes", &known.join(", "))]));
            }
        }
    }
}
