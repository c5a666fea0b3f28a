//! Kubeconfig files as kubeadm writes them: credentials inline as base64 `*-data` fields.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::{CONTEXT, FakeApiServer};

pub enum User {
    Token,
    ClientCert,
}

pub fn render(server: &FakeApiServer, user: User, namespace: &str) -> String {
    let b64 = |s: &str| STANDARD.encode(s.as_bytes());
    let user_entry = match user {
        User::Token => json!({ "token": server.token().unwrap_or_default() }),
        User::ClientCert => json!({
            "client-certificate-data": b64(server.client_cert_pem()),
            "client-key-data": b64(server.client_key_pem()),
        }),
    };
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": CONTEXT,
            "cluster": {
                "server": server.url(),
                "certificate-authority-data": b64(server.ca_pem()),
            },
        }],
        "users": [{ "name": CONTEXT, "user": user_entry }],
        "contexts": [{
            "name": CONTEXT,
            "context": { "cluster": CONTEXT, "user": CONTEXT, "namespace": namespace },
        }],
        "current-context": CONTEXT,
        "preferences": {},
    });
    serde_yaml_ng::to_string(&config).expect("kubeconfig serializes")
}
