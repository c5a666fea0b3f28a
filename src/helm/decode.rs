//! Helm's release encoding, as in helm `pkg/storage/driver/util.go`: the release is JSON, gzipped,
//! then base64 (standard alphabet). Decoding gunzips only when the bytes start with the gzip magic,
//! because helm itself accepts plain JSON there.
//!
//! The input comes from clusters that are broken and from snapshot directories that strangers send,
//! so every step is bounded and every failure is a value, never a panic.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use jiff::Timestamp;
use serde::Deserialize;

/// Helm charts can be large (CRDs, dashboards), but Kubernetes caps an object at about 1 MiB, so a
/// real release never inflates to anywhere near this. Anything bigger is a gzip bomb.
pub const MAX_INFLATED: u64 = 64 * 1024 * 1024;

const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// The parts of a release the doctor uses. `config` (user values, passwords), `chart.values`,
/// `chart.templates`, `chart.files`, `manifest` and `hooks` are not fields here on purpose: serde
/// skips them while parsing, so they never exist in memory to be printed by mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseInfo {
    pub name: String,
    pub namespace: String,
    pub revision: u32,
    pub status: String,
    pub chart_name: Option<String>,
    pub chart_version: Option<String>,
    pub app_version: Option<String>,
    pub first_deployed: Option<Timestamp>,
    pub last_deployed: Option<Timestamp>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("release payload is empty")]
    Empty,
    #[error("release payload is not valid base64: {0}")]
    Base64(String),
    #[error("release payload is not valid gzip: {0}")]
    Gzip(String),
    #[error("release payload inflates to more than {} MiB; refusing to read further", MAX_INFLATED / (1024 * 1024))]
    TooLarge,
    #[error("release payload is not a helm release JSON: {0}")]
    Json(String),
}

impl DecodeError {
    /// serde's own message quotes the value it choked on (`invalid type: string "hunter2",
    /// expected ...`), and in a release that value can be anything the user put there: say what
    /// kind of error it is and where, never what was there.
    pub fn json(e: &serde_json::Error) -> DecodeError {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Io => "cannot be read",
            Category::Syntax => "not valid JSON",
            Category::Data => "valid JSON of an unexpected shape",
            Category::Eof => "JSON that ends too early",
        };
        DecodeError::Json(format!("{what} at line {} column {}", e.line(), e.column()))
    }
}

#[derive(Deserialize)]
struct RawRelease {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    version: u32,
    #[serde(default)]
    info: Option<RawInfo>,
    #[serde(default)]
    chart: Option<RawChart>,
}

#[derive(Deserialize)]
struct RawInfo {
    #[serde(default)]
    first_deployed: Option<String>,
    #[serde(default)]
    last_deployed: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct RawChart {
    #[serde(default)]
    metadata: Option<RawChartMeta>,
}

#[derive(Deserialize)]
struct RawChartMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default, rename = "appVersion")]
    app_version: Option<String>,
}

/// Helm writes Go's `time.Time`, RFC 3339 with nanoseconds; a zero time (`0001-01-01T00:00:00Z`)
/// means "never".
fn parse_time(s: Option<String>) -> Option<Timestamp> {
    let t: Timestamp = s?.parse().ok()?;
    (t.as_second() > 0).then_some(t)
}

/// Decodes helm's stored text (what is in `data.release` once the API's own base64 layer of a
/// Secret is removed; for the configmap driver, the string as stored).
pub fn decode(stored: &[u8]) -> Result<ReleaseInfo, DecodeError> {
    parse_json(&release_json(stored)?)
}

/// The release JSON inside helm's stored text, with every bound of [`decode`]. Only the snapshot
/// writer needs the whole document (to strip the sensitive parts and re-encode the rest).
pub fn release_json(stored: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let stored = stored.trim_ascii();
    if stored.is_empty() {
        return Err(DecodeError::Empty);
    }
    let bytes = STANDARD
        .decode(stored)
        .map_err(|e| DecodeError::Base64(e.to_string()))?;
    if bytes.starts_with(&GZIP_MAGIC) {
        inflate(&bytes)
    } else {
        Ok(bytes)
    }
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(8 << 20));
    // Read one byte past the cap so that "exactly at the cap" and "over it" differ.
    GzDecoder::new(bytes)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Gzip(e.to_string()))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

fn parse_json(json: &[u8]) -> Result<ReleaseInfo, DecodeError> {
    let raw: RawRelease = serde_json::from_slice(json).map_err(|e| DecodeError::json(&e))?;
    let info = raw.info.unwrap_or(RawInfo {
        first_deployed: None,
        last_deployed: None,
        description: None,
        status: None,
    });
    let meta = raw.chart.and_then(|c| c.metadata);
    let (chart_name, chart_version, app_version) = match meta {
        Some(m) => (m.name, m.version, m.app_version),
        None => (None, None, None),
    };
    Ok(ReleaseInfo {
        name: raw.name,
        namespace: raw.namespace,
        revision: raw.version,
        status: info.status.unwrap_or_default(),
        chart_name: chart_name.filter(|s| !s.is_empty()),
        chart_version: chart_version.filter(|s| !s.is_empty()),
        app_version: app_version.filter(|s| !s.is_empty()),
        first_deployed: parse_time(info.first_deployed),
        last_deployed: parse_time(info.last_deployed),
        description: info.description.filter(|s| !s.is_empty()),
    })
}

/// Encodes a release JSON exactly as helm does (gzip at best compression as helm `encodeRelease` does, standard base64). Used to
/// write snapshots and to build test data; decoding it gives the same release back.
pub fn encode(release_json: &[u8]) -> String {
    use std::io::Write;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    // Writing into a Vec cannot fail.
    gz.write_all(release_json).expect("gzip into memory");
    STANDARD.encode(gz.finish().expect("gzip into memory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"name":"bk-paas","namespace":"blueking","version":3,
        "info":{"first_deployed":"2026-11-20T08:00:00.123456789Z","last_deployed":"2026-11-25T10:00:00Z",
                "deleted":"","description":"Preparing upgrade","status":"pending-upgrade"},
        "chart":{"metadata":{"name":"bk-paas","version":"1.4.2","appVersion":"1.4.2"},
                 "values":{"secret":"chart-default-do-not-print"},"templates":[]},
        "config":{"password":"user-value-do-not-print"},"manifest":"kind: Secret"}"#;

    #[test]
    fn decodes_what_helm_encodes() {
        let info = decode(encode(SAMPLE.as_bytes()).as_bytes()).unwrap();
        assert_eq!(info.name, "bk-paas");
        assert_eq!(info.revision, 3);
        assert_eq!(info.status, "pending-upgrade");
        assert_eq!(info.chart_version.as_deref(), Some("1.4.2"));
        assert_eq!(info.description.as_deref(), Some("Preparing upgrade"));
        assert_eq!(
            info.last_deployed.unwrap().to_string(),
            "2026-11-25T10:00:00Z"
        );
        let dbg = format!("{info:?}");
        assert!(!dbg.contains("do-not-print") && !dbg.contains("kind: Secret"));
    }

    #[test]
    fn plain_json_without_gzip_is_accepted_as_helm_does() {
        let stored = STANDARD.encode(SAMPLE);
        assert_eq!(decode(stored.as_bytes()).unwrap().revision, 3);
    }

    #[test]
    fn corrupt_inputs_are_errors_not_panics() {
        assert_eq!(decode(b""), Err(DecodeError::Empty));
        assert!(matches!(
            decode(b"!!not base64!!"),
            Err(DecodeError::Base64(_))
        ));
        let gz = STANDARD.decode(encode(SAMPLE.as_bytes())).unwrap();
        let truncated = STANDARD.encode(&gz[..gz.len() / 2]);
        assert!(matches!(
            decode(truncated.as_bytes()),
            Err(DecodeError::Gzip(_))
        ));
        let not_json = encode(b"this is not json");
        assert!(matches!(
            decode(not_json.as_bytes()),
            Err(DecodeError::Json(_))
        ));
        let wrong_shape = encode(br#"{"name": 12}"#);
        assert!(matches!(
            decode(wrong_shape.as_bytes()),
            Err(DecodeError::Json(_))
        ));
    }

    #[test]
    fn errors_never_quote_the_payload() {
        for json in [
            r#"{"info": "NOTES: admin password do-not-print"}"#,
            r#"{"version": "do-not-print"}"#,
            r#"{"chart": {"metadata": {"name": ["do-not-print"]}}}"#,
            r#"{"config": {"password": "do-not-print"}, "name": tru"#,
        ] {
            let e = decode(encode(json.as_bytes()).as_bytes()).unwrap_err();
            assert!(matches!(e, DecodeError::Json(_)), "{e}");
            assert!(!e.to_string().contains("do-not-print"), "{e}");
            assert!(e.to_string().contains("line 1 column "), "{e}");
        }
    }

    #[test]
    fn gzip_bomb_is_capped() {
        // 80 MiB of zeros gzips to about 80 KiB.
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..80 {
            std::io::Write::write_all(&mut gz, &chunk).unwrap();
        }
        let bomb = STANDARD.encode(gz.finish().unwrap());
        assert_eq!(decode(bomb.as_bytes()), Err(DecodeError::TooLarge));
    }

    #[test]
    fn zero_go_time_means_never() {
        let j = r#"{"name":"x","version":1,"info":{"status":"deployed","first_deployed":"0001-01-01T00:00:00Z"}}"#;
        let info = decode(encode(j.as_bytes()).as_bytes()).unwrap();
        assert_eq!(info.first_deployed, None);
    }
}
