//! What is known of a Secret that is not helm release storage: that it exists, its labels, its
//! type, and (from a file that carried them) the names of its keys. It must never hold a value:
//! a live collection lists Secrets metadata-only, and a file's values are dropped as it is parsed.

use jiff::Timestamp;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretMeta {
    pub name: String,
    pub namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Timestamp>,
    /// `kubernetes.io/tls`, `Opaque`, …; a metadata-only list does not carry it (`None`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The names of `data` and `stringData` keys, sorted; empty when the source carried none (a
    /// metadata-only list never does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

impl SecretMeta {
    /// From a Secret as JSON (a file's object, or a metadata-only list item): names, never values.
    pub fn from_value(v: &serde_json::Value) -> Option<SecretMeta> {
        let meta = &v["metadata"];
        let labels = meta["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let mut keys: Vec<String> = ["data", "stringData"]
            .iter()
            .filter_map(|f| v[f].as_object())
            .flat_map(|m| m.keys().cloned())
            .chain(
                v[KEYS_FIELD]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str().map(str::to_string)),
            )
            .collect();
        keys.sort();
        keys.dedup();
        Some(SecretMeta {
            name: meta["name"].as_str()?.to_string(),
            namespace: meta["namespace"].as_str().unwrap_or("").to_string(),
            labels,
            creation_timestamp: meta["creationTimestamp"]
                .as_str()
                .and_then(|t| t.parse().ok()),
            type_: v["type"].as_str().map(str::to_string),
            keys,
        })
    }

    /// The object a snapshot directory holds for it: a Secret without `data`; its key names go
    /// into a field of their own, so that nothing written looks like a value.
    pub fn to_value(&self) -> serde_json::Value {
        let mut meta = serde_json::json!({"name": self.name, "namespace": self.namespace});
        if !self.labels.is_empty() {
            meta["labels"] = serde_json::json!(self.labels);
        }
        if let Some(t) = &self.creation_timestamp {
            meta["creationTimestamp"] = t.to_string().into();
        }
        let mut v = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta});
        if let Some(t) = &self.type_ {
            v["type"] = t.clone().into();
        }
        if !self.keys.is_empty() {
            v[KEYS_FIELD] = serde_json::json!(self.keys);
        }
        v
    }
}

/// Where a snapshot directory written by this tool keeps a Secret's key names: never `data`, so
/// that nothing in the file looks like, or can be mistaken for, a value.
pub const KEYS_FIELD: &str = "bkdoctorKeyNames";

/// A Secret named `name` exists in `namespace`.
pub fn exists(secrets: &[SecretMeta], namespace: &str, name: &str) -> bool {
    secrets
        .iter()
        .any(|s| s.namespace == namespace && s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_kept_by_name_values_never() {
        let v = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "bk-tls", "namespace": "blueking", "labels": {"app": "x"},
                         "creationTimestamp": "2026-11-20T08:00:00Z"},
            "data": {"tls.crt": "c2VjcmV0LWRvLW5vdC1rZWVw", "tls.key": "c2VjcmV0"}});
        let s = SecretMeta::from_value(&v).unwrap();
        assert_eq!(s.keys, ["tls.crt", "tls.key"]);
        assert_eq!(s.type_.as_deref(), Some("kubernetes.io/tls"));
        let text = serde_json::to_string(&s.to_value()).unwrap();
        assert!(!text.contains("c2VjcmV0"), "{text}");
        assert!(s.to_value().get("data").is_none());
        assert_eq!(SecretMeta::from_value(&s.to_value()), Some(s));
    }
}
