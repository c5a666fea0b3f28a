//! Reads of stored objects: GET by name and lists with selectors, `limit` and `continue` tokens
//! in the etcd3 store's format, and the time etcd takes to scan what a read decodes. It does not
//! decide the field order of what it writes ([`order`](super::order) does).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

use super::order::{ListBody, ListItem, MetadataOnly, Object};
use super::routing::{Shape, Target, shape};
use super::tables::table;
use super::{RecordedRequest, Resp, State, bad_request, json_response, not_found, now, raw};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::Store;

pub(super) fn get(
    state: &State,
    store: &Store,
    req: &RecordedRequest,
    target: &Target,
    name: &str,
) -> Resp {
    let key = crate::store::key(target.namespace, name);
    let obj = store
        .objects
        .get(&(target.t.group.clone(), target.t.resource.clone()))
        .and_then(|b| b.get(&key));
    let mut scan = Scan::new(state, from_watch_cache(state, req));
    let Some(obj) = obj else {
        return scan.charge(not_found(target.t, name));
    };
    scan.read(obj);
    scan.charge(match shape(req.accept.as_deref()) {
        Shape::Full => raw(
            200,
            "application/json",
            serde_json::to_string(&Object(obj)).unwrap_or_default(),
        ),
        Shape::Metadata => raw(
            200,
            "application/json",
            serde_json::to_string(&MetadataOnly(obj)).unwrap_or_default(),
        ),
        Shape::Table => json_response(
            200,
            &table(now(&state.config), target.t, &[obj], req, None, ""),
        ),
    })
}

/// The continue token kube-apiserver's etcd3 store issues: base64url of
/// `{"v":"meta.k8s.io/v1","rv":N,"start":"<key after the last one returned>\u0000"}`.
pub(super) fn encode_continue(rv: u64, last_key: &str) -> String {
    // Field order as Go marshals the struct, so tokens equal the real server's byte for byte.
    let start = Value::String(format!("{last_key}\u{0}"));
    URL_SAFE_NO_PAD.encode(format!(
        r#"{{"v":"meta.k8s.io/v1","rv":{rv},"start":{start}}}"#
    ))
}

pub(super) fn decode_continue(token: &str) -> Result<(u64, String), String> {
    let invalid = |e: &str| format!("invalid continue token: continue key is not valid: {e}");
    let data = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .or_else(|_| STANDARD.decode(token))
        .map_err(|e| invalid(&format!("illegal base64 data: {e}")))?;
    let value: Value = serde_json::from_slice(&data).map_err(|_| invalid(&go_json_error(&data)))?;
    if value["v"] != "meta.k8s.io/v1" {
        return Err(invalid(&format!(
            "server does not recognize this encoded version {}",
            value["v"].as_str().unwrap_or("")
        )));
    }
    let rv = value["rv"].as_u64().unwrap_or(0);
    if rv == 0 {
        return Err(invalid(
            "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    let start = value["start"].as_str().unwrap_or("");
    if start.is_empty() {
        return Err(invalid("encoded start key empty"));
    }
    Ok((rv, start.to_string()))
}

/// The message Go's encoding/json gives for the first syntax error of the common kinds, so that
/// a bad token's 400 reads as the real server's (recorded/error-400-bad-continue.json).
pub(super) fn go_json_error(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let trimmed = text.trim_start();
    let Some(first) = trimmed.chars().next() else {
        return "unexpected end of JSON input".into();
    };
    for literal in ["null", "true", "false"] {
        if first == literal.chars().next().unwrap() {
            for (have, want) in trimmed.chars().zip(literal.chars()).skip(1) {
                if have != want {
                    return format!(
                        "invalid character '{have}' in literal {literal} (expecting '{want}')"
                    );
                }
            }
            return "invalid character after top-level value".into();
        }
    }
    if !matches!(first, '{' | '[' | '"' | '-' | '0'..='9') {
        return format!("invalid character '{first}' looking for beginning of value");
    }
    "invalid JSON".into()
}

pub(super) fn list(state: &State, store: &Store, req: &RecordedRequest, target: &Target) -> Resp {
    let t = target.t;
    let labels = match LabelSelector::parse(req.param("labelSelector").unwrap_or("")) {
        Ok(s) => s,
        Err(e) => return bad_request(&e),
    };
    let fields = match FieldSelector::parse(req.param("fieldSelector").unwrap_or(""), &t.resource) {
        Ok(s) => s,
        Err(e) => return bad_request(&e),
    };
    let limit = match req.param("limit").filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => return bad_request(&format!("limit: Invalid value: \"{l}\"")),
        },
    };
    let (rv, start) = match req.param("continue").filter(|c| !c.is_empty()) {
        Some(token) => match decode_continue(token) {
            Ok((rv, start)) => (rv, Some(start)),
            Err(e) => return bad_request(&e),
        },
        None => (store.resource_version, None),
    };
    // The watch cache answers `resourceVersion=0` from memory, the whole list at once: it has no
    // continue tokens to hand out, so it ignores `limit`.
    let cached = from_watch_cache(state, req) && start.is_none();
    let limit = match (limit, state.config.page_size) {
        _ if cached => None,
        (Some(l), Some(p)) => Some(l.min(p)),
        (l, _) => l,
    };
    let mut scan = Scan::new(state, cached);
    // Keys in the token are relative to the list's prefix: `ns/name` cluster-wide, `name` in a
    // namespace, as etcd keys under /registry/<resource>/[<ns>/].
    let prefix = target
        .namespace
        .map(|ns| format!("{ns}/"))
        .unwrap_or_default();
    let empty = BTreeMap::new();
    let bucket = store
        .objects
        .get(&(t.group.clone(), t.resource.clone()))
        .unwrap_or(&empty);
    let from = format!("{prefix}{}", start.as_deref().unwrap_or(""));
    let mut page: Vec<(&String, &Value)> = Vec::new();
    let mut more = 0usize;
    // etcd can only count the rest when no selector filters it; with one, the first match past
    // the page is enough to know there is more (scanning on made every page cost the whole rest).
    let counting = labels.is_empty() && fields.is_empty();
    for (k, o) in bucket
        .range(from..)
        .take_while(|(k, _)| k.starts_with(&prefix))
    {
        // What etcd decodes: every object up to the first match past the page, matching or not;
        // the rest is only counted, from the keys.
        if more == 0 {
            scan.read(o);
        }
        if !(labels.matches(o) && fields.matches(o)) {
            continue;
        }
        if limit.is_some_and(|l| page.len() >= l) {
            more += 1;
            if counting {
                continue;
            }
            break;
        }
        page.push((k, o));
    }
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".into(), rv.to_string().into());
    let mut token = String::new();
    if more > 0
        && let Some((last, _)) = page.last()
    {
        token = encode_continue(rv, &last[prefix.len()..]);
        metadata.insert("continue".into(), token.clone().into());
        if counting {
            metadata.insert("remainingItemCount".into(), more.into());
        }
    }
    let objects: Vec<&Value> = page.iter().map(|(_, o)| *o).collect();
    let kind = format!("{}List", t.kind);
    let api_version = t.api_version();
    // Written straight from the stored objects, as the watch cache serves its cached encodings:
    // cloning every object of a 5,000-pod list first took the fake more CPU than the client it
    // measures.
    let body = match shape(req.accept.as_deref()) {
        Shape::Full => serde_json::to_string(&ListBody {
            kind: &kind,
            api_version: &api_version,
            metadata: &metadata,
            items: objects.iter().map(|o| ListItem(o)).collect(),
        }),
        Shape::Metadata => serde_json::to_string(&ListBody {
            kind: "PartialObjectMetadataList",
            api_version: "meta.k8s.io/v1",
            metadata: &metadata,
            items: objects.iter().map(|o| MetadataOnly(o)).collect(),
        }),
        Shape::Table => serde_json::to_string(&table(
            now(&state.config),
            t,
            &objects,
            req,
            Some(rv),
            &token,
        )),
    };
    scan.charge(raw(200, "application/json", body.unwrap_or_default()))
}

/// Whether a read may come from the watch cache: `resourceVersion=0` ("any version"), on a server
/// that has one. Without `resourceVersion` a read is consistent and goes to etcd.
pub(super) fn from_watch_cache(state: &State, req: &RecordedRequest) -> bool {
    state.config.watch_cache && req.param("resourceVersion") == Some("0")
}

/// How long a response waits before it is sent: what etcd took to read the objects scanned.
#[derive(Clone, Copy)]
pub(super) struct ReadCost(pub(super) std::time::Duration);

/// Counts the bytes a read from etcd decodes, when the server is set to charge for them.
pub(super) struct Scan {
    rate: Option<u64>,
    bytes: u64,
}

impl Scan {
    fn new(state: &State, cached: bool) -> Self {
        Scan {
            rate: state.config.etcd_read_rate.filter(|_| !cached),
            bytes: 0,
        }
    }

    fn read(&mut self, object: &Value) {
        if self.rate.is_some() {
            self.bytes += json_size(object);
        }
    }

    fn charge(&self, mut response: Resp) -> Resp {
        if let Some(rate) = self.rate {
            let cost = std::time::Duration::from_secs_f64(self.bytes as f64 / rate as f64);
            response.extensions_mut().insert(ReadCost(cost));
        }
        response
    }
}

/// About the size of `v` as JSON (escapes and number digits estimated), without writing it out:
/// walking the tree is cheap even for a Secret holding a 200 KiB string.
pub(super) fn json_size(v: &Value) -> u64 {
    match v {
        Value::Null => 4,
        Value::Bool(_) => 5,
        Value::Number(_) => 6,
        Value::String(s) => s.len() as u64 + 2,
        Value::Array(a) => 2 + a.iter().map(|x| json_size(x) + 1).sum::<u64>(),
        Value::Object(m) => {
            2 + m
                .iter()
                .map(|(k, x)| k.len() as u64 + 4 + json_size(x))
                .sum::<u64>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_match_the_recorded_format() {
        let token = encode_continue(344, "blueking/sh.helm.release.v1.bk-cmdb.v2");
        assert_eq!(
            token,
            "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MzQ0LCJzdGFydCI6ImJsdWVraW5nL3NoLmhlbG0ucmVsZWFzZS52MS5iay1jbWRiLnYyXHUwMDAwIn0"
        );
        assert_eq!(
            decode_continue(&token).unwrap(),
            (
                344,
                "blueking/sh.helm.release.v1.bk-cmdb.v2\u{0}".to_string()
            )
        );
    }

    #[test]
    fn bad_continue_reads_as_the_recorded_one() {
        let recorded: Value =
            serde_json::from_str(include_str!("../../recorded/error-400-bad-continue.json"))
                .unwrap();
        let token = URL_SAFE_NO_PAD.encode("not-a-token");
        assert_eq!(decode_continue(&token).unwrap_err(), recorded["message"]);
    }
}
