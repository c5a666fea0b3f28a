//! The secrets driver (helm's default). The API server base64-encodes Secret data, so `data.release`
//! carries two layers of base64 around the gzip: the API's, then helm's own.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::{Driver, Payload, ReleaseRecord, SECRET_TYPE, STORAGE_PREFIX, decode};

/// Whether a Secret (as JSON) is helm release storage. Only these Secrets are ever kept in a
/// snapshot; every other Secret is dropped on sight.
pub fn is_release(obj: &Value) -> bool {
    if obj.get("type").and_then(Value::as_str) == Some(SECRET_TYPE) {
        return true;
    }
    let meta = &obj["metadata"];
    meta["labels"]["owner"].as_str() == Some("helm")
        && meta["name"]
            .as_str()
            .is_some_and(|n| n.starts_with(STORAGE_PREFIX))
}

/// Reads one storage Secret. `None` when it is not helm storage or its metadata is unusable.
pub fn from_object(obj: &Value) -> Option<ReleaseRecord> {
    if !is_release(obj) {
        return None;
    }
    let meta: ObjectMeta = serde_json::from_value(obj.get("metadata")?.clone()).ok()?;
    let payload = match obj["data"]["release"].as_str() {
        None => super::payload_without_data(obj, "the Secret has no data.release"),
        Some(api_b64) => match STANDARD.decode(api_b64.trim()) {
            Err(e) => Payload::Unreadable(format!("data.release is not valid base64: {e}")),
            Ok(stored) => payload(&stored),
        },
    };
    ReleaseRecord::from_meta(Driver::Secret, &meta, payload)
}

pub(super) fn payload(stored: &[u8]) -> Payload {
    match decode::decode(stored) {
        Ok(info) => Payload::Decoded(Box::new(info)),
        Err(e) => Payload::Unreadable(e.to_string()),
    }
}
