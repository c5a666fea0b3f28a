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
        use serde::ser::SerializeMap;
        let Some(fields) = self.0.as_object() else {
            return self.0.serialize(s);
        };
        let mut map = s.serialize_map(None)?;
        for (k, v) in fields {
            if k != "kind" && k != "apiVersion" {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
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
        map.serialize_entry("metadata", &self.0["metadata"])?;
        map.end()
    }
}
