//! Server-side printing: the `Table` `kubectl get` asks for, with the columns of the resources
//! tests read through kubectl. It renders; it does not select objects.

use serde_json::{Map, Value, json};

use super::RecordedRequest;
use super::order::MetadataOnly;
use crate::resources::ResourceType;

pub(super) fn age(created: Option<&str>, now: jiff::Timestamp) -> String {
    let Some(created) = created.and_then(|c| c.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    let secs = (now.as_second() - created.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// What `kubectl get` prints: the server renders the columns (server-side printing).
pub(super) fn table(
    now: jiff::Timestamp,
    t: &ResourceType,
    objects: &[&Value],
    req: &RecordedRequest,
    rv: Option<u64>,
    token: &str,
) -> Value {
    let col = |name: &str, ty: &str, format: &str| json!({"name": name, "type": ty, "format": format, "description": "", "priority": 0});
    let mut columns = vec![col("Name", "string", "name")];
    match t.resource.as_str() {
        "pods" if t.group.is_empty() => columns.extend([
            col("Ready", "string", ""),
            col("Status", "string", ""),
            col("Restarts", "string", ""),
        ]),
        "secrets" => columns.extend([col("Type", "string", ""), col("Data", "integer", "")]),
        _ => {}
    }
    columns.push(col("Age", "string", ""));
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let meta = &o["metadata"];
            let mut cells = vec![meta["name"].clone()];
            match t.resource.as_str() {
                "pods" if t.group.is_empty() => {
                    let statuses = o["status"]["containerStatuses"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
                    let ready = statuses.iter().filter(|s| s["ready"] == true).count();
                    let restarts: i64 = statuses
                        .iter()
                        .map(|s| s["restartCount"].as_i64().unwrap_or(0))
                        .sum();
                    let waiting = statuses
                        .iter()
                        .find_map(|s| s["state"]["waiting"]["reason"].as_str());
                    let phase = o["status"]["phase"].as_str().unwrap_or("Unknown");
                    cells.push(format!("{ready}/{total}").into());
                    cells.push(waiting.unwrap_or(phase).into());
                    cells.push(restarts.to_string().into());
                }
                "secrets" => {
                    cells.push(o["type"].clone());
                    cells.push(o["data"].as_object().map_or(0, Map::len).into());
                }
                _ => {}
            }
            cells.push(age(meta["creationTimestamp"].as_str(), now).into());
            let object = match req.param("includeObject") {
                Some("None") => Value::Null,
                Some("Object") => (*o).clone(),
                _ => serde_json::to_value(MetadataOnly(o)).unwrap_or_default(),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    let mut metadata = Map::new();
    if let Some(rv) = rv {
        metadata.insert("resourceVersion".into(), rv.to_string().into());
    }
    if !token.is_empty() {
        metadata.insert("continue".into(), token.into());
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}
