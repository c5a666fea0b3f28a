//! The configmap driver (`HELM_DRIVER=configmap`): the same records as the secrets driver, but
//! ConfigMap data is plain text, so `data.release` holds helm's base64 directly.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::{Driver, ReleaseRecord, STORAGE_PREFIX, secrets};

pub fn is_release(obj: &Value) -> bool {
    let meta = &obj["metadata"];
    meta["labels"]["owner"].as_str() == Some("helm")
        && meta["name"]
            .as_str()
            .is_some_and(|n| n.starts_with(STORAGE_PREFIX))
}

pub fn from_object(obj: &Value) -> Option<ReleaseRecord> {
    if !is_release(obj) {
        return None;
    }
    let meta: ObjectMeta = serde_json::from_value(obj.get("metadata")?.clone()).ok()?;
    let payload = match obj["data"]["release"].as_str() {
        None => super::payload_without_data(obj, "the ConfigMap has no data.release"),
        Some(stored) => secrets::payload(stored.as_bytes()),
    };
    ReleaseRecord::from_meta(Driver::ConfigMap, &meta, payload)
}
