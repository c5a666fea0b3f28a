//! Versions as charts and container images spell them: `0.4.57`, `v1.12.1`, `1.9.0-beta.0`,
//! `v1.9.4@sha256:…`. Ordering follows semver (numeric parts compared as numbers, missing parts are
//! 0, a pre-release sorts before its release) because that is how helm orders chart versions; a
//! string comparison would put `0.4.100` before `0.4.57`.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub parts: Vec<u64>,
    /// The text after `-`, e.g. `beta.1`; empty for a release.
    pub pre: String,
}

impl Version {
    /// `None` when the text does not start with a number (after an optional `v`): a tag such as
    /// `latest` says nothing about the version, and guessing would invent findings.
    pub fn parse(text: &str) -> Option<Version> {
        let t = text.trim();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        // Build metadata and an image digest do not order versions.
        let t = t.split(['+', '@']).next().unwrap_or("");
        let (core, pre) = match t.split_once('-') {
            Some((c, p)) => (c, p.to_string()),
            None => (t, String::new()),
        };
        let parts = core
            .split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Version { parts, pre })
    }

    pub fn at_least(&self, parts: &[u64]) -> bool {
        self.cmp(&Version {
            parts: parts.to_vec(),
            pre: String::new(),
        }) != Ordering::Less
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        for i in 0..n {
            let a = self.parts.get(i).copied().unwrap_or(0);
            let b = other.parts.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => cmp_pre(&self.pre, &other.pre),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Semver pre-release precedence: dot-separated identifiers, numeric ones compared as numbers and
/// lower than alphanumeric ones, a shorter list first when all else is equal.
fn cmp_pre(a: &str, b: &str) -> Ordering {
    let mut ai = a.split('.');
    let mut bi = b.split('.');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(p), Ok(q)) => p.cmp(&q),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// The tag of a container image reference: `registry.k8s.io/ingress-nginx/controller:v1.12.1@sha256:…`
/// → `v1.12.1`. A registry port (`host:5000/x`) is not a tag.
pub fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next()?;
    last.split_once(':').map(|(_, tag)| tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn numeric_not_lexical_order() {
        assert!(v("0.4.100") > v("0.4.57"));
        assert!(v("0.4.56") < v("0.4.57"));
        assert!(v("0.10.0") > v("0.4.57"));
        assert!(v("1.0") > v("0.4.57"));
    }

    #[test]
    fn prefix_missing_parts_and_metadata() {
        assert_eq!(v("v0.4.57").cmp(&v("0.4.57")), Ordering::Equal);
        assert_eq!(v("0.4.57+build.7").cmp(&v("0.4.57")), Ordering::Equal);
        assert_eq!(v("1.9").cmp(&v("1.9.0")), Ordering::Equal);
        assert_eq!(v("v1.12.1@sha256:abc").parts, vec![1, 12, 1]);
    }

    #[test]
    fn prerelease_sorts_before_its_release() {
        assert!(v("0.4.57-beta.1") < v("0.4.57"));
        assert!(v("0.4.57-beta.1") > v("0.4.56"));
        assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1"));
        assert!(v("1.0.0-alpha.2") < v("1.0.0-alpha.10"));
        assert!(v("1.0.0-1") < v("1.0.0-alpha"));
    }

    #[test]
    fn at_least_is_inclusive() {
        assert!(v("0.4.57").at_least(&[0, 4, 57]));
        assert!(!v("0.4.56").at_least(&[0, 4, 57]));
        assert!(v("v1.9.0").at_least(&[1, 9]));
        assert!(!v("v1.9.0-beta.0").at_least(&[1, 9]));
        assert!(!v("0.49.3").at_least(&[1, 9]));
    }

    #[test]
    fn not_a_version() {
        assert_eq!(Version::parse("latest"), None);
        assert_eq!(Version::parse(""), None);
        assert_eq!(Version::parse("1.x"), None);
    }

    #[test]
    fn image_tags() {
        assert_eq!(
            image_tag("registry.k8s.io/ingress-nginx/controller:v1.12.1@sha256:d2fb"),
            Some("v1.12.1")
        );
        assert_eq!(image_tag("localhost:5000/ingress-nginx/controller"), None);
        assert_eq!(
            image_tag("hub.bktencent.com:8443/x/controller:v0.49.3"),
            Some("v0.49.3")
        );
    }
}
