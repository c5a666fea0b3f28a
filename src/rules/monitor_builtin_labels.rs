//! `monitor-builtin-labels`: from bkmonitor-operator 3.8.9 the operator adds only the labels
//! `builtin_labels` lists to what it collects; without `instance` the BCS overview shows no node
//! data while host monitoring still works (guide: 升级监控到 3.8.9 后无节点数据).

use serde_yaml_ng::Value;

use super::Ctx;
use crate::findings::Finding;

pub const ID: &str = "monitor-builtin-labels";

const CM: &str = "bkm-operator";
const KEY: &str = "bkmonitor-operator.yaml";
const LABEL: &str = "instance";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for cm in &ctx.snap.config_maps {
        if cm.metadata.name.as_deref() != Some(CM) {
            continue;
        }
        let ns = cm.metadata.namespace.as_deref().unwrap_or("");
        let Some(text) = cm.data.as_ref().and_then(|d| d.get(KEY)) else {
            continue;
        };
        let Ok(doc) = serde_yaml_ng::from_str::<Value>(text) else {
            continue;
        };
        // An operator configuration without an `operator` section is of another shape.
        let Some(operator) = doc.get("operator") else {
            continue;
        };
        let labels: Vec<String> = match operator.get("builtin_labels") {
            Some(Value::Sequence(s)) => s
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        };
        if labels.iter().any(|l| l == LABEL) {
            continue;
        }
        let mut f = ctx.finding(ID, Some(ns), format!("configmap/{CM}"), &[]);
        f.evidence.push(if labels.is_empty() {
            ctx.text(ID, "none", &[("configmap", CM), ("namespace", ns)])
        } else {
            ctx.text(
                ID,
                "labels",
                &[
                    ("configmap", CM),
                    ("namespace", ns),
                    ("labels", &labels.join(", ")),
                ],
            )
        });
        let mut wanted = labels;
        wanted.push(LABEL.to_string());
        let list = serde_json::to_string(&wanted).expect("strings serialise");
        f.remediation.push(ctx.text(ID, "in_bkhelmfile", &[]));
        f.remediation.push(format!(
            "yq -i '.bkmonitor-operator-charts.bkmonitor-operator.builtinLabels = {list}' environments/default/bkmonitor-operator-custom-values.yaml.gotmpl"
        ));
        f.remediation
            .push("helmfile -f 04-bkmonitor-operator.yaml.gotmpl sync".into());
        f.remediation.push(ctx.text(ID, "verify", &[]));
        f.remediation.push(format!(
            "kubectl get configmap -n {ns} {CM} -o jsonpath='{{.data.bkmonitor-operator\\.yaml}}' | yq '.operator.builtin_labels'"
        ));
        out.push(f);
    }
    out
}
