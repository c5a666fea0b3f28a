//! `helm-release-unreadable`: a release record whose payload does not decode (bad base64, truncated
//! gzip, not JSON, inflates past the cap). Helm itself may choke on it; the doctor used its labels.

use super::Ctx;
use crate::findings::Finding;

pub const ID: &str = "helm-release-unreadable";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for rel in &ctx.releases {
        for rev in &rel.revisions {
            let Some(reason) = &rev.unreadable else {
                continue;
            };
            let (ns, name, obj) = (
                rel.namespace.as_str(),
                rel.name.as_str(),
                rev.object_name.as_str(),
            );
            let kind = rev.driver.kubectl_kind();
            let mut f = ctx.finding(
                ID,
                Some(ns),
                format!("{kind}/{obj}"),
                &[("object", obj), ("release", name)],
            );
            f.evidence
                .push(ctx.text(ID, "reason", &[("reason", reason)]));
            f.evidence.push(ctx.text(
                ID,
                "labels",
                &[
                    ("release", name),
                    ("revision", &rev.revision.to_string()),
                    ("status", &rev.status),
                ],
            ));
            f.remediation.push(format!(
                "kubectl get {kind} -n {ns} {obj} -o yaml > {obj}.yaml"
            ));
            f.remediation.push(format!("helm history -n {ns} {name}"));
            f.remediation.push(ctx.text(ID, "if_helm_fails", &[]));
            f.remediation
                .push(format!("kubectl delete {kind} -n {ns} {obj}"));
            out.push(f);
        }
    }
    out
}
