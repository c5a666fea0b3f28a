//! The names an error text gives: the object helm could not create or patch, its kind and
//! namespace, the release that should own it, the missing kind and API version, the webhook and
//! its Service, the template file and line, the hook Job, the verb and resource refused, the quota,
//! the chart and repository. Each is taken from the error's own words and kept only when it has
//! the strict shape of its kind of name (a Kubernetes name, a file path, a number): these fill the
//! commands of a fix, so nothing that could be a value, a password or shell syntax gets through.
//! It must not guess a name the text does not give, nor keep the text itself.

use std::sync::LazyLock;

use regex::Regex;

/// `(regex with named groups)`: every group that matches and passes [`shape`] becomes a name.
const EXTRACTORS: &[&str] = &[
    r#"cannot patch "(?P<object>[^"]+)" with kind (?P<kind>\w+)"#,
    r#"(?P<kind>[A-Z]\w*)(?:\.[a-z0-9.]+)? "(?P<object>[^"]+)" in namespace "(?P<objns>[^"]*)" exists"#,
    r#"(?:^|[:;] )(?P<kind>[A-Z]\w*)(?:\.[a-z0-9.]+)? "(?P<object>[^"]+)" is (?:invalid|forbidden)"#,
    r#"existing resource conflict: namespace: (?P<objns>[^,]*), name: (?P<object>[^,]+), existing_kind: [^,]*Kind=(?P<kind>\w+)"#,
    r#"meta\.helm\.sh/release-name"?:? must (?:be set to|equal) "(?P<owner>[^"]+)""#,
    r#"meta\.helm\.sh/release-namespace"?:? must (?:be set to|equal) "(?P<owner_ns>[^"]+)""#,
    r#"meta\.helm\.sh/release-name" must equal "[^"]+": current value is "(?P<current_owner>[^"]+)""#,
    r#"no matches for kind "(?P<crdkind>[^"]+)" in version "(?P<apiversion>[^"]+)""#,
    r#"resource mapping not found for name: "(?P<object>[^"]+)" namespace: "(?P<objns>[^"]*)""#,
    r#"webhook "(?P<webhook>[^"]+)""#,
    r#"https://(?P<service>[a-z0-9-]+)\.(?P<svcns>[a-z0-9-]+)\.svc"#,
    r#"no endpoints available for service "(?P<service>[^"]+)""#,
    r#"template: (?P<file>[^:\s]+):(?P<line>\d+)"#,
    r#"(?:execution|parse) error (?:at|in) \((?P<file>[^:)\s]+):(?P<line>\d+)"#,
    r#"YAML parse error on (?P<file>[^:\s]+):[^\n]*?line (?P<line>\d+)"#,
    r#"job (?P<job>[a-z0-9][-a-z0-9.]*) failed"#,
    r#"(?P<hook>(?:pre|post)-(?:install|upgrade|rollback|delete))"#,
    r#"cannot (?P<verb>[a-z]+) resource "(?P<resource>[^"]+)" in API group "(?P<group>[^"]*)"(?: in the namespace "(?P<objns>[^"]+)")?"#,
    r#"exceeded quota: (?P<quota>[^,\s]+)"#,
    r#"repo (?P<repo>[^\s"]+) not found"#,
    r#"(?:failed to download|chart) "(?P<chart>[^"]+)""#,
    r#"(?:looks like "|failed to fetch )(?P<url>https?://[^"\s]+)"#,
    r#"services<(?P<saas_service>[a-z]+)>"#,
];

static COMPILED: LazyLock<Vec<Regex>> =
    LazyLock::new(|| EXTRACTORS.iter().map(|r| Regex::new(r).unwrap()).collect());

macro_rules! shape {
    ($name:ident, $re:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($re).unwrap());
    };
}
shape!(SUBDOMAIN, r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$");
shape!(LABEL, r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$");
shape!(KIND, r"^[A-Za-z][A-Za-z0-9]{0,62}$");
shape!(
    API_VERSION,
    r"^(?:[a-z0-9][-a-z0-9.]{0,252}/)?v[0-9][a-z0-9]{0,15}$"
);
shape!(FILE, r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,250}$");
shape!(NUMBER, r"^[0-9]{1,7}$");
shape!(WORD, r"^[a-z]{1,32}$");
shape!(RESOURCE, r"^[a-z0-9][-a-z0-9.]{0,252}(?:/[a-z]{1,32})?$");
shape!(GROUP, r"^[a-z0-9.-]{0,253}$");
shape!(
    CHART,
    r"^[A-Za-z0-9_][-A-Za-z0-9_.]{0,100}(?:/[A-Za-z0-9_][-A-Za-z0-9_.]{0,100})?$"
);
shape!(
    URL,
    r"^https?://[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/-]{0,500})?$"
);
shape!(HOOK, r"^(?:pre|post)-(?:install|upgrade|rollback|delete)$");

/// Whether a value has the shape of its name; a path never climbs out (`..`).
fn shape(key: &str, v: &str) -> bool {
    let re: &Regex = match key {
        "object" | "owner" | "current_owner" | "webhook" | "service" | "job" | "quota" => {
            &SUBDOMAIN
        }
        "objns" | "owner_ns" | "svcns" => &LABEL,
        "kind" | "crdkind" => &KIND,
        "apiversion" => &API_VERSION,
        "file" => return FILE.is_match(v) && !v.contains(".."),
        "line" => &NUMBER,
        "verb" | "saas_service" => &WORD,
        "resource" => &RESOURCE,
        "group" => &GROUP,
        "repo" | "chart" => &CHART,
        "url" => &URL,
        "hook" => &HOOK,
        _ => return false,
    };
    re.is_match(v)
}

/// Every name the text gives, first occurrence of each; in a stable order.
pub fn names(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for re in COMPILED.iter() {
        let Some(c) = re.captures(text) else {
            continue;
        };
        for key in re.capture_names().flatten() {
            let Some(m) = c.name(key) else { continue };
            let v = m.as_str();
            if key == "objns" && v.is_empty() && !out.iter().any(|(k, _)| k == "in_objns") {
                // `in namespace ""`: a cluster-scoped object, named without -n.
                out.push(("in_objns".into(), String::new()));
            }
            if shape(key, v) && !out.iter().any(|(k, _)| k == key) {
                out.push((key.to_string(), v.to_string()));
            }
        }
    }
    out
}

/// The keys [`names`] can give: the placeholders a fix may use beyond the release and namespace.
pub const KEYS: &[&str] = &[
    "object",
    "kind",
    "objns",
    "owner",
    "owner_ns",
    "current_owner",
    "crdkind",
    "apiversion",
    "webhook",
    "service",
    "svcns",
    "file",
    "line",
    "job",
    "hook",
    "verb",
    "resource",
    "group",
    "quota",
    "repo",
    "chart",
    "url",
    "saas_service",
    "in_objns",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(n: &'a [(String, String)], k: &str) -> Option<&'a str> {
        n.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn ownership_names_the_object_and_the_owner_it_must_have() {
        let n = names(
            r#"Error: rendered manifests contain a resource that already exists. Unable to continue with install: Service "bk-paas-mysql" in namespace "blueking" exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: key "meta.helm.sh/release-name" must equal "bk-paas": current value is "bk-mysql"; annotation validation error: missing key "meta.helm.sh/release-namespace": must be set to "blueking""#,
        );
        assert_eq!(get(&n, "kind"), Some("Service"));
        assert_eq!(get(&n, "object"), Some("bk-paas-mysql"));
        assert_eq!(get(&n, "objns"), Some("blueking"));
        assert_eq!(get(&n, "owner"), Some("bk-paas"));
        assert_eq!(get(&n, "current_owner"), Some("bk-mysql"));
        assert_eq!(get(&n, "owner_ns"), Some("blueking"));
    }

    #[test]
    fn a_value_of_the_wrong_shape_is_dropped() {
        let n =
            names(r#"cannot patch "x; rm -rf /" with kind Job: template: ../../etc/passwd:3:1"#);
        assert_eq!(get(&n, "object"), None);
        assert_eq!(get(&n, "kind"), Some("Job"));
        assert_eq!(get(&n, "file"), None);
        let n = names(
            r#"Post "https://ingress-nginx-controller-admission.ingress-nginx.svc:443/networking/v1/ingresses?timeout=10s""#,
        );
        assert_eq!(
            get(&n, "service"),
            Some("ingress-nginx-controller-admission")
        );
        assert_eq!(get(&n, "svcns"), Some("ingress-nginx"));
    }
}
