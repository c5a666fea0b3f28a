//! `labelSelector` and `fieldSelector` as the API server parses them
//! (k8s.io/apimachinery/pkg/labels and pkg/fields).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

#[derive(Debug, Clone, Default)]
pub struct LabelSelector(Vec<LabelReq>);

/// Splits on commas outside parentheses: `a in (x,y),b` is two requirements.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn parse_set(rest: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| "found '', expected: '('".to_string())?;
    let values: Vec<String> = inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err("for 'in', 'notin' operators, values set can't be empty".into());
    }
    Ok(values)
}

/// `key in (a,b)` or `key in(a,b)`: the lexer ends a key at a space or a parenthesis.
fn set_operator<'a>(part: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let (key, rest) = part.split_once(char::is_whitespace)?;
    let rest = rest.trim_start().strip_prefix(op)?;
    rest.trim_start().starts_with('(').then_some((key, rest))
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(LabelSelector(reqs));
        }
        for part in split_top(s) {
            let part = part.trim();
            let bad = || format!("unable to parse requirement: invalid label selector: {part:?}");
            let req = if let Some(key) = part.strip_prefix('!') {
                LabelReq::NotExists(key.trim().to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                LabelReq::NotEq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==") {
                LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once('=') {
                LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, rest)) = set_operator(part, "notin") {
                LabelReq::NotIn(k.trim().to_string(), parse_set(rest)?)
            } else if let Some((k, rest)) = set_operator(part, "in") {
                LabelReq::In(k.trim().to_string(), parse_set(rest)?)
            } else {
                LabelReq::Exists(part.to_string())
            };
            let key = match &req {
                LabelReq::Eq(k, _)
                | LabelReq::NotEq(k, _)
                | LabelReq::In(k, _)
                | LabelReq::NotIn(k, _)
                | LabelReq::Exists(k)
                | LabelReq::NotExists(k) => k,
            };
            if !valid_key(key) {
                return Err(bad());
            }
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            // As in apimachinery: `!=` and `notin` also match objects without the label.
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

/// Fields each resource supports besides `metadata.name` and `metadata.namespace`, from the
/// registry's `GetAttrs`/field label conversion functions.
fn supported_fields(resource: &str) -> &'static [&'static str] {
    match resource {
        "pods" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "events" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "secrets" => &["type"],
        "nodes" => &["spec.unschedulable"],
        "namespaces" => &["status.phase"],
        "replicasets" => &["status.replicas"],
        "jobs" => &["status.successful"],
        _ => &[],
    }
}

impl FieldSelector {
    pub fn parse(s: &str, resource: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector(reqs));
        }
        for part in s.split(',') {
            let (field, equal, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let field = field.trim();
            if field != "metadata.name"
                && field != "metadata.namespace"
                && !supported_fields(resource).contains(&field)
            {
                return Err(format!("field label not supported: {field}"));
            }
            reqs.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, equal, want)| {
            let mut v = obj;
            // An event's `source` field is its source component, or the reporting controller when
            // it has none (pkg/registry/core/event/strategy.go, ToSelectableFields).
            if field == "source" {
                let component = &obj["source"]["component"];
                v = if component.as_str().is_some_and(|s| !s.is_empty()) {
                    component
                } else {
                    &obj["reportingComponent"]
                };
            } else {
                for part in field.split('.') {
                    v = &v[part];
                }
            }
            let have = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (have == *want) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "blueking", "labels": labels},
               "spec": {"nodeName": "node-1", "hostNetwork": true},
               "status": {"phase": "Running"}})
    }

    #[test]
    fn label_operators() {
        let o = obj(json!({"owner": "helm", "status": "deployed"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&o);
        assert!(m("owner=helm"));
        assert!(m("owner==helm,status"));
        assert!(m("owner!=x"));
        assert!(m("status in (failed, deployed)"));
        assert!(!m("status notin (failed,deployed)"));
        assert!(m("!name"));
        assert!(!m("!owner"));
        assert!(m("missing!=x"));
        assert!(m("missing notin (x)"));
        assert!(!m("missing in (x)"));
        assert!(m(""));
        assert!(m("status in(deployed)"));
        assert!(m(
            "owner=helm,name notin (bk-job),status in (failed,deployed)"
        ));
        assert!(LabelSelector::parse("status in ()").is_err());
        assert!(LabelSelector::parse("a in x").is_err());
        assert!(LabelSelector::parse("(bad)").is_err());
    }

    #[test]
    fn field_selectors() {
        let o = obj(json!({}));
        let m = |s: &str| FieldSelector::parse(s, "pods").unwrap().matches(&o);
        assert!(m("metadata.name=a,metadata.namespace==blueking"));
        assert!(m("status.phase!=Pending"));
        assert!(m("spec.nodeName=node-1"));
        assert!(m("spec.hostNetwork=true"));
        assert!(!m("spec.nodeName=node-2"));
        assert_eq!(
            FieldSelector::parse("spec.foo=x", "pods").unwrap_err(),
            "field label not supported: spec.foo"
        );
        assert!(FieldSelector::parse("status.phase=x", "secrets").is_err());
    }

    #[test]
    fn event_field_selectors() {
        let e = json!({"metadata": {"name": "e1", "namespace": "blueking"}, "type": "Normal",
                       "reason": "FailedBinding", "reportingComponent": "",
                       "involvedObject": {"kind": "PersistentVolumeClaim", "name": "data-0", "namespace": "blueking"},
                       "source": {"component": "persistentvolume-controller"}});
        let m = |s: &str| FieldSelector::parse(s, "events").unwrap().matches(&e);
        assert!(m("type=Normal,involvedObject.kind=PersistentVolumeClaim"));
        assert!(!m("type=Warning"));
        assert!(m("type!=Warning"));
        assert!(m("reason=FailedBinding,involvedObject.name=data-0"));
        assert!(m("source=persistentvolume-controller"));
        let mut by_controller = e.clone();
        by_controller["source"] = json!({});
        by_controller["reportingComponent"] = json!("job-controller");
        assert!(
            FieldSelector::parse("source=job-controller", "events")
                .unwrap()
                .matches(&by_controller)
        );
        assert_eq!(
            FieldSelector::parse("message=x", "events").unwrap_err(),
            "field label not supported: message"
        );
    }
}
