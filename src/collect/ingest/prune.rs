//! What of a parsed object is kept: a pod's spec cut down to what the rules declare they read;
//! the bulk no rule reads of other kinds (pod templates, CA bundles, topology hints) dropped.
//! Works on typed objects only; it parses nothing and must never keep a value the rules do not read
//! (an environment variable's value above all).

use k8s_openapi::api::admissionregistration::v1::WebhookClientConfig;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{
    Affinity, Container, EnvVar, Pod, PodSpec, PodTemplateSpec, Volume,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::snapshot::{ContainerRead, PodSpecRead, pod};

/// Keeps of a pod's spec what `read` names; the rest of the pod stays as it is. Applied to the
/// typed pod as it is parsed, so no pod is held whole for longer than its own parse.
pub(super) fn slim_pod(pod: &mut Pod, read: &PodSpecRead) {
    let read = match read.of_healthy {
        Some(healthy) if !pod::is_troubled(pod) => healthy,
        _ => read,
    };
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    let containers = |cs: Vec<Container>| -> Vec<Container> {
        cs.into_iter()
            .map(|c| slim_container(c, &read.containers))
            .collect()
    };
    let volumes = read.volumes.and_then(|r| {
        spec.volumes.take().map(|vs| {
            // A projected service-account token or an emptyDir names nothing a rule looks up, and
            // a Volume is a large struct: keep only those naming a source that is read.
            vs.into_iter()
                .map(|v| Volume {
                    name: v.name,
                    persistent_volume_claim: v
                        .persistent_volume_claim
                        .filter(|_| r.persistent_volume_claim),
                    secret: v.secret.filter(|_| r.secret),
                    config_map: v.config_map.filter(|_| r.config_map),
                    ..Volume::default()
                })
                .filter(|v| {
                    v.persistent_volume_claim.is_some()
                        || v.secret.is_some()
                        || v.config_map.is_some()
                })
                .collect()
        })
    });
    let node_affinity = spec
        .affinity
        .take()
        .filter(|_| read.node_affinity)
        .and_then(|a| a.node_affinity)
        .map(|n| Affinity {
            node_affinity: Some(n),
            ..Affinity::default()
        });
    *spec = PodSpec {
        node_name: spec.node_name.take().filter(|_| read.node_name),
        host_network: spec.host_network.filter(|_| read.host_network),
        node_selector: spec.node_selector.take().filter(|_| read.node_selector),
        affinity: node_affinity,
        tolerations: spec.tolerations.take().filter(|_| read.tolerations),
        volumes,
        containers: containers(std::mem::take(&mut spec.containers)),
        init_containers: spec.init_containers.take().map(containers),
        ..PodSpec::default()
    };
}

fn slim_container(c: Container, read: &ContainerRead) -> Container {
    let probe = |p: Option<_>| p.filter(|_| read.probes);
    Container {
        name: c.name,
        image: c.image.filter(|_| read.image),
        resources: c.resources.filter(|_| read.resources),
        readiness_probe: probe(c.readiness_probe),
        liveness_probe: probe(c.liveness_probe),
        startup_probe: probe(c.startup_probe),
        restart_policy: c.restart_policy.filter(|_| read.restart_policy),
        env: kept_env(c.env, read.env_names),
        ..Container::default()
    }
}

/// The variables named in `names`, by name only: never their values, which can be secrets.
fn kept_env(env: Option<Vec<EnvVar>>, names: &[&str]) -> Option<Vec<EnvVar>> {
    let kept: Vec<EnvVar> = env?
        .into_iter()
        .filter(|e| names.contains(&e.name.as_str()))
        .map(|e| EnvVar {
            name: e.name,
            ..EnvVar::default()
        })
        .collect();
    (!kept.is_empty()).then_some(kept)
}

/// A ReplicaSet's pod template is its Deployment's, which is read already: a cluster keeps ten
/// old ReplicaSets per Deployment, and their templates would be most of their size.
pub(super) fn replica_set(rs: &mut ReplicaSet) {
    if let Some(spec) = rs.spec.as_mut() {
        spec.template = None;
    }
}

/// Of a CronJob, its schedule, history and status are read; the Job's pod template is not.
pub(super) fn cron_job(cj: &mut CronJob) {
    if let Some(job) = cj.spec.as_mut().and_then(|s| s.job_template.spec.as_mut()) {
        job.template = PodTemplateSpec::default();
    }
}

/// Which pods back a Service and whether they are ready; zone hints and node topology are not.
pub(super) fn endpoint_slice(slice: &mut EndpointSlice) {
    for e in &mut slice.endpoints {
        e.hints = None;
        e.deprecated_topology = None;
        e.zone = None;
    }
}

/// A webhook's CA bundle is kilobytes of base64 per webhook, and only the Service it calls is read.
pub(super) fn webhooks<W>(
    hooks: Option<&mut Vec<W>>,
    config: impl Fn(&mut W) -> &mut WebhookClientConfig,
) {
    for h in hooks.into_iter().flatten() {
        config(h).ca_bundle = None;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::collect::ingest::Ingest;
    use crate::snapshot::{Snapshot, VolumeRead};
    use serde_json::Value;
    use serde_json::value::RawValue;

    pub(in crate::collect::ingest) fn pod() -> Value {
        serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "bk-paas-0", "namespace": "blueking", "labels": {"app": "paas"},
                         "managedFields": [{"manager": "kubelet", "operation": "Update"}]},
            "spec": {"nodeName": "node-1", "hostNetwork": true, "serviceAccountName": "paas",
                     "nodeSelector": {"kubernetes.io/os": "linux"},
                     "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}],
                     "volumes": [{"name": "conf", "configMap": {"name": "paas"}},
                                 {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}],
                     "initContainers": [{"name": "wait", "image": "busybox:1.36", "command": ["sh"]}],
                     "containers": [{"name": "app", "image": "bk-paas:1.4.2",
                                     "env": [{"name": "DB_PASSWORD", "value": "x"}],
                                     "resources": {"limits": {"memory": "1Gi"}, "requests": {"cpu": "500m"}},
                                     "volumeMounts": [{"name": "conf", "mountPath": "/conf"}],
                                     "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}}}]},
            "status": {"phase": "Running", "podIP": "10.244.1.5",
                       "containerStatuses": [{"name": "app", "ready": true, "restartCount": 2,
                                              "image": "bk-paas:1.4.2", "imageID": ""}]}})
    }

    /// What the rules declare they read of a pod's spec (`rules::POD_SPEC_READ`, which this layer
    /// does not name): that a live `check` keeps no less is what the live tests' "same findings
    /// live as offline" shows; here, that the declaration is applied.
    pub(in crate::collect::ingest) const READ: PodSpecRead = PodSpecRead {
        node_name: true,
        host_network: true,
        node_selector: true,
        node_affinity: true,
        tolerations: true,
        volumes: Some(VolumeRead {
            persistent_volume_claim: true,
            secret: true,
            config_map: true,
        }),
        containers: ContainerRead {
            image: true,
            resources: true,
            probes: true,
            restart_policy: true,
            env_names: &["BK_REPO_EXT_IP"],
        },
        of_healthy: None,
    };

    /// The pod as a file gives it and as a live list item gives it: both must come out the same.
    fn ingest(read: Option<PodSpecRead>) -> Value {
        let mut from_file = Snapshot::default();
        Ingest::new(read).add(&mut from_file, pod(), "pods", None);
        let mut live = Snapshot::default();
        let raw = RawValue::from_string(pod().to_string()).unwrap();
        Ingest::new(read).add_raw(&mut live, "Pod", &raw, "pods");
        assert_eq!(from_file.pods.len(), 1);
        assert_eq!(from_file.pods, live.pods);
        serde_json::to_value(&from_file.pods[0]).unwrap()
    }

    #[test]
    fn a_healthy_pod_keeps_only_what_is_read_of_healthy_pods() {
        const HEALTHY: PodSpecRead = PodSpecRead {
            node_name: true,
            containers: ContainerRead {
                image: true,
                resources: true,
                ..ContainerRead::NONE
            },
            ..PodSpecRead::NONE
        };
        let read = PodSpecRead {
            of_healthy: Some(&HEALTHY),
            ..READ
        };
        let mut healthy = pod();
        healthy["status"] = serde_json::json!({"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                                   "image": "bk-paas:1.4.2", "imageID": ""}]});
        let mut snap = Snapshot::default();
        Ingest::new(Some(read)).add(&mut snap, healthy, "pods", None);
        assert_eq!(
            serde_json::to_value(&snap.pods[0]).unwrap()["spec"],
            serde_json::json!({"nodeName": "node-1",
                "initContainers": [{"name": "wait", "image": "busybox:1.36"}],
                "containers": [{"name": "app", "image": "bk-paas:1.4.2",
                                "resources": {"limits": {"memory": "1Gi"}, "requests": {"cpu": "500m"}}}]})
        );
        // The same pod restarted is in trouble: the whole declaration applies.
        assert_eq!(ingest(Some(read))["spec"], ingest(Some(READ))["spec"]);
    }

    #[test]
    fn slim_pods_keep_what_rules_read() {
        let slim = ingest(Some(READ));
        assert_eq!(
            slim["spec"],
            serde_json::json!({"nodeName": "node-1", "hostNetwork": true,
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}],
                "volumes": [{"name": "conf", "configMap": {"name": "paas"}}],
                "initContainers": [{"name": "wait", "image": "busybox:1.36"}],
                "containers": [{"name": "app", "image": "bk-paas:1.4.2",
                                "resources": {"limits": {"memory": "1Gi"}, "requests": {"cpu": "500m"}},
                                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}}}]})
        );
        assert_eq!(slim["status"], pod()["status"]);
        assert_eq!(slim["metadata"]["labels"], pod()["metadata"]["labels"]);
        assert!(slim["metadata"].get("managedFields").is_none());

        let whole = ingest(None);
        let mut expected = pod();
        expected["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        assert_eq!(whole, expected);
    }

    #[test]
    fn the_declaration_decides_what_a_pod_keeps() {
        let no_probes = PodSpecRead {
            containers: ContainerRead {
                probes: false,
                ..READ.containers
            },
            ..READ
        };
        let slim = ingest(Some(no_probes));
        let app = &slim["spec"]["containers"][0];
        assert!(app.get("readinessProbe").is_none(), "{app}");
        assert_eq!(
            app["resources"],
            pod()["spec"]["containers"][0]["resources"]
        );

        // An env var named is kept by name; its value never is.
        let env = PodSpecRead {
            containers: ContainerRead {
                env_names: &["DB_PASSWORD"],
                ..READ.containers
            },
            ..READ
        };
        let slim = ingest(Some(env));
        assert_eq!(
            slim["spec"]["containers"][0]["env"],
            serde_json::json!([{"name": "DB_PASSWORD"}])
        );

        // Only what is declared: volumes' ConfigMaps and the node's name left out here.
        let no_config_maps = PodSpecRead {
            node_name: false,
            volumes: Some(VolumeRead {
                config_map: false,
                ..READ.volumes.unwrap()
            }),
            ..READ
        };
        let slim = ingest(Some(no_config_maps));
        assert!(slim["spec"].get("nodeName").is_none());
        assert_eq!(slim["spec"]["hostNetwork"], true);
        assert_eq!(slim["spec"]["volumes"], serde_json::json!([]));

        // A declaration of nothing keeps the containers' names, which their statuses are found by.
        let slim = ingest(Some(PodSpecRead::default()));
        assert_eq!(
            slim["spec"],
            serde_json::json!({"initContainers": [{"name": "wait"}], "containers": [{"name": "app"}]})
        );
        assert_eq!(slim["status"], pod()["status"]);
    }
}
