//! Which resources the server knows: the REST names of kinds, their group, version and scope. The
//! built-in table covers what kubectl-bkdoctor reads; objects of any other kind are served under a
//! name guessed from their kind, as a CRD of that kind would be.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    /// The plural, lower-case name in URLs: `pods`.
    pub resource: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
}

impl ResourceType {
    fn new(group: &str, version: &str, resource: &str, kind: &str, namespaced: bool) -> Self {
        ResourceType {
            group: group.to_string(),
            version: version.to_string(),
            resource: resource.to_string(),
            kind: kind.to_string(),
            namespaced,
            short_names: Vec::new(),
        }
    }

    fn short(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// A kind guessed for objects nobody declared: English plural rules as CRDs usually follow.
    pub fn guessed(api_version: &str, kind: &str, namespaced: bool) -> Self {
        let (group, version) = split_api_version(api_version);
        let lower = kind.to_ascii_lowercase();
        let resource = if lower.ends_with('s') || lower.ends_with('x') || lower.ends_with("ch") {
            format!("{lower}es")
        } else if let Some(stem) = lower.strip_suffix('y') {
            format!("{stem}ies")
        } else {
            format!("{lower}s")
        };
        ResourceType::new(group, version, &resource, kind, namespaced)
    }
}

pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

pub fn builtin() -> Vec<ResourceType> {
    let t = ResourceType::new;
    vec![
        t("", "v1", "pods", "Pod", true).short(&["po"]),
        t("", "v1", "services", "Service", true).short(&["svc"]),
        t("", "v1", "configmaps", "ConfigMap", true).short(&["cm"]),
        t("", "v1", "secrets", "Secret", true),
        t("", "v1", "events", "Event", true).short(&["ev"]),
        t("", "v1", "endpoints", "Endpoints", true).short(&["ep"]),
        t("", "v1", "serviceaccounts", "ServiceAccount", true).short(&["sa"]),
        t(
            "",
            "v1",
            "persistentvolumeclaims",
            "PersistentVolumeClaim",
            true,
        )
        .short(&["pvc"]),
        t("", "v1", "persistentvolumes", "PersistentVolume", false).short(&["pv"]),
        t("", "v1", "nodes", "Node", false).short(&["no"]),
        t("", "v1", "namespaces", "Namespace", false).short(&["ns"]),
        t("apps", "v1", "deployments", "Deployment", true).short(&["deploy"]),
        t("apps", "v1", "daemonsets", "DaemonSet", true).short(&["ds"]),
        t("apps", "v1", "statefulsets", "StatefulSet", true).short(&["sts"]),
        t("apps", "v1", "replicasets", "ReplicaSet", true).short(&["rs"]),
        t("batch", "v1", "jobs", "Job", true),
        t("batch", "v1", "cronjobs", "CronJob", true).short(&["cj"]),
        t("coordination.k8s.io", "v1", "leases", "Lease", true),
        t(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            false,
        )
        .short(&["crd", "crds"]),
        t("events.k8s.io", "v1", "events", "Event", true).short(&["ev"]),
        t("networking.k8s.io", "v1", "ingresses", "Ingress", true).short(&["ing"]),
        t(
            "networking.k8s.io",
            "v1",
            "ingressclasses",
            "IngressClass",
            false,
        ),
        t(
            "discovery.k8s.io",
            "v1",
            "endpointslices",
            "EndpointSlice",
            true,
        ),
        t(
            "admissionregistration.k8s.io",
            "v1",
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
            false,
        ),
        t(
            "admissionregistration.k8s.io",
            "v1",
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfiguration",
            false,
        ),
        t(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            "ClusterRoleBinding",
            false,
        ),
        t(
            "storage.k8s.io",
            "v1",
            "storageclasses",
            "StorageClass",
            false,
        )
        .short(&["sc"]),
    ]
}

/// `kubectl cluster-info dump` names its files after the resource and its lists carry no kind.
pub fn kind_from_file_stem(stem: &str) -> Option<&'static str> {
    Some(match stem {
        "pods" => "Pod",
        "nodes" => "Node",
        "services" => "Service",
        "events" => "Event",
        "deployments" => "Deployment",
        "daemonsets" => "DaemonSet",
        "statefulsets" => "StatefulSet",
        "replicasets" => "ReplicaSet",
        "configmaps" => "ConfigMap",
        "secrets" => "Secret",
        "leases" => "Lease",
        "jobs" => "Job",
        "namespaces" => "Namespace",
        "persistentvolumeclaims" | "pvcs" => "PersistentVolumeClaim",
        "persistentvolumes" | "pvs" => "PersistentVolume",
        "storageclasses" => "StorageClass",
        "customresourcedefinitions" | "crds" => "CustomResourceDefinition",
        "cronjobs" => "CronJob",
        "ingresses" => "Ingress",
        "ingressclasses" => "IngressClass",
        "endpointslices" => "EndpointSlice",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guessed_plurals() {
        assert_eq!(
            ResourceType::guessed("bk.tencent.com/v1", "BkApp", true).resource,
            "bkapps"
        );
        assert_eq!(
            ResourceType::guessed("x/v1", "Policy", true).resource,
            "policies"
        );
        assert_eq!(
            ResourceType::guessed("x/v1", "Ingress", true).resource,
            "ingresses"
        );
        assert_eq!(ResourceType::guessed("v1", "Foo", false).group, "");
    }
}
