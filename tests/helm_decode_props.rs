//! Properties of helm release decoding: what helm encodes decodes to the same release, and no input
//! at all makes the decoder panic.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use kubectl_bkdoctor::helm::decode::{self, DecodeError};
use proptest::prelude::*;
use serde_json::json;

fn status() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("deployed"),
        Just("superseded"),
        Just("failed"),
        Just("pending-install"),
        Just("pending-upgrade"),
        Just("pending-rollback"),
        Just("uninstalled"),
        Just("uninstalling"),
        Just("unknown"),
    ]
    .prop_map(str::to_string)
}

fn time() -> impl Strategy<Value = Timestamp> {
    // From 1971 to 2100, to the nanosecond, as Go's time.Time marshals.
    (31_536_000i64..4_102_444_800, 0i32..1_000_000_000)
        .prop_map(|(s, ns)| Timestamp::new(s, ns).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_then_decode_round_trips(
        name in "[a-z][a-z0-9-]{0,52}",
        namespace in "[a-z][a-z0-9-]{0,62}",
        revision in 1u32..100_000,
        status in status(),
        chart in proptest::option::of("[a-z][a-z0-9-]{0,30}"),
        chart_version in proptest::option::of("[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(-[a-z0-9.]{1,8})?"),
        app_version in proptest::option::of("v?[0-9a-z.+-]{1,20}"),
        description in ".{0,200}",
        first in time(),
        last in time(),
        junk in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let rel = json!({
            "name": name,
            "info": {
                "first_deployed": first.to_string(),
                "last_deployed": last.to_string(),
                "deleted": "",
                "description": description,
                "status": status,
            },
            "chart": {
                "metadata": {"name": chart, "version": chart_version, "appVersion": app_version},
                "values": {"junk": STANDARD.encode(&junk)},
                "templates": [],
            },
            "config": {"junk": STANDARD.encode(&junk)},
            "manifest": "",
            "version": revision,
            "namespace": namespace,
        });
        let stored = decode::encode(rel.to_string().as_bytes());
        let info = decode::decode(stored.as_bytes()).unwrap();
        prop_assert_eq!(&info.name, &name);
        prop_assert_eq!(&info.namespace, &namespace);
        prop_assert_eq!(info.revision, revision);
        prop_assert_eq!(&info.status, &status);
        prop_assert_eq!(info.chart_name, chart.filter(|s| !s.is_empty()));
        prop_assert_eq!(info.chart_version, chart_version);
        prop_assert_eq!(info.app_version, app_version);
        prop_assert_eq!(info.description, Some(description).filter(|s| !s.is_empty()));
        prop_assert_eq!(info.first_deployed, Some(first));
        prop_assert_eq!(info.last_deployed, Some(last));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode::decode(&bytes);
        let _ = decode::decode(STANDARD.encode(&bytes).as_bytes());
    }

    #[test]
    fn arbitrary_gzip_content_is_an_error_or_a_release(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let stored = decode::encode(&bytes);
        match decode::decode(stored.as_bytes()) {
            Ok(_) | Err(DecodeError::Json(_)) => {}
            Err(e) => prop_assert!(false, "gzip of any bytes inflates; got {e}"),
        }
    }

    #[test]
    fn truncated_gzip_is_an_error(cut in 0usize..100) {
        let rel = json!({"name": "bk-paas", "version": 1, "info": {"status": "deployed"}}).to_string();
        let gz = STANDARD.decode(decode::encode(rel.as_bytes())).unwrap();
        let cut = cut.min(gz.len() - 1);
        let stored = STANDARD.encode(&gz[..cut]);
        prop_assert!(decode::decode(stored.as_bytes()).is_err());
    }
}
