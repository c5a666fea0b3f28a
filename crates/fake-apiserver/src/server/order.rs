//! The bytes of lists and metadata-only objects, their fields in the order kube-apiserver writes
//! them; written straight from the stored objects. It chooses no object.

use serde_json::{Map, Value};

/// A list's body, its fields in the order kube-apiserver writes them.
pub(super) struct ListBody<'a, I> {
    pub(super) kind: &'a str,
    pub(super) api_version: &'a str,
    pub(super) metadata: &'a Map<String, Value>,
    pub(super) items: Vec<I>,
}

impl<I: serde::Serialize> serde::Serialize for ListBody<'_, I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("kind", self.kind)?;
        map.serialize_entry("apiVersion", self.api_version)?;
        map.serialize_entry("metadata", self.metadata)?;
        map.serialize_entry("items", &self.items)?;
        map.end()
    }
}

/// An object as a typed list carries it: without the kind and apiVersion the list gives once.
pub(super) struct ListItem<'a>(pub(super) &'a Value);

impl serde::Serialize for ListItem<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Ordered(self.0, Level::Object { in_list: true }).serialize(s)
    }
}

/// A whole object as a GET returns it.
pub(super) struct Object<'a>(pub(super) &'a Value);

impl serde::Serialize for Object<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Ordered(self.0, Level::Object { in_list: false }).serialize(s)
    }
}

/// An object as a metadata-only list or GET returns it.
pub(super) struct MetadataOnly<'a>(pub(super) &'a Value);

impl serde::Serialize for MetadataOnly<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("kind", "PartialObjectMetadata")?;
        map.serialize_entry("apiVersion", "meta.k8s.io/v1")?;
        map.serialize_entry("metadata", &Ordered(&self.0["metadata"], Level::Metadata))?;
        map.end()
    }
}

/// The order Go's encoding/json writes the structs' fields in (their declaration order), for the
/// levels whose order a reader sees first; deeper maps are written sorted, as Go writes maps.
const OBJECT_ORDER: &[&str] = &[
    "kind",
    "apiVersion",
    "metadata",
    "immutable",
    "data",
    "stringData",
    "binaryData",
    "involvedObject",
    "reason",
    "message",
    "source",
    "firstTimestamp",
    "lastTimestamp",
    "count",
    "type",
    "spec",
    "status",
];
const METADATA_ORDER: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];
const MANAGED_ORDER: &[&str] = &[
    "manager",
    "operation",
    "apiVersion",
    "time",
    "fieldsType",
    "fieldsV1",
    "subresource",
];

#[derive(Clone, Copy)]
enum Level {
    Object { in_list: bool },
    Metadata,
    Managed,
}

struct Ordered<'a>(&'a Value, Level);

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(fields) = self.0.as_object() else {
            return self.0.serialize(s);
        };
        let order = match self.1 {
            Level::Object { .. } => OBJECT_ORDER,
            Level::Metadata => METADATA_ORDER,
            Level::Managed => MANAGED_ORDER,
        };
        let skip = |k: &str| {
            matches!(self.1, Level::Object { in_list: true }) && (k == "kind" || k == "apiVersion")
        };
        let mut map = s.serialize_map(None)?;
        let entry = |map: &mut S::SerializeMap, k: &str, v: &Value| match (self.1, k) {
            (Level::Object { .. }, "metadata") => {
                map.serialize_entry(k, &Ordered(v, Level::Metadata))
            }
            (Level::Metadata, "managedFields") => map.serialize_entry(k, &ManagedList(v)),
            _ => map.serialize_entry(k, v),
        };
        for k in order {
            if let Some(v) = fields.get(*k)
                && !skip(k)
            {
                entry(&mut map, k, v)?;
            }
        }
        for (k, v) in fields {
            if !order.contains(&k.as_str()) && !skip(k) {
                entry(&mut map, k, v)?;
            }
        }
        map.end()
    }
}

struct ManagedList<'a>(&'a Value);

impl serde::Serialize for ManagedList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let Some(entries) = self.0.as_array() else {
            return self.0.serialize(s);
        };
        let mut seq = s.serialize_seq(Some(entries.len()))?;
        for e in entries {
            seq.serialize_element(&Ordered(e, Level::Managed))?;
        }
        seq.end()
    }
}
