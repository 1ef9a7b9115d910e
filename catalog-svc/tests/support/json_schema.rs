//! The official HSDS 3.0 schemas (`tests/hsds-3.0`, vendored), applied by the `jsonschema`
//! crate with format assertions on (`uuid`, `uri`, `email`, `date`, `date-time`). The schemas
//! refer to each other by file name (`"$ref": "organization.json"`): they resolve against one
//! base URI, and a retriever reads the named sibling file — nothing is fetched from a network.
//! The Frictionless Data annotations the files also carry (`constraints`,
//! `datapackage_metadata`, …) describe CSV packaging and are not JSON Schema keywords.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where the schemas' relative references resolve.
const BASE: &str = "https://hsds.lodiwelfare.test/schema/";

/// Reads `<BASE><file>` from the schema directory.
struct Siblings(PathBuf);

impl jsonschema::Retrieve for Siblings {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let file = uri
            .as_str()
            .strip_prefix(BASE)
            .ok_or_else(|| format!("{uri} is not one of the HSDS schemas"))?;
        let text = std::fs::read_to_string(self.0.join(file))?;
        Ok(serde_json::from_str(&text)?)
    }
}

pub struct Schemas {
    dir: PathBuf,
    validators: HashMap<String, jsonschema::Validator>,
}

impl Schemas {
    pub fn new(dir: &Path) -> Schemas {
        Schemas {
            dir: dir.to_owned(),
            validators: HashMap::new(),
        }
    }

    fn validator(&mut self, file: &str) -> &jsonschema::Validator {
        let dir = self.dir.clone();
        self.validators.entry(file.to_owned()).or_insert_with(|| {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("schema {}: {e}", path.display()));
            let mut schema: Value = serde_json::from_str(&text).expect("schema is JSON");
            schema["$id"] = Value::String(format!("{BASE}{file}"));
            jsonschema::options()
                .with_base_uri(BASE)
                .with_retriever(Siblings(dir))
                .should_validate_formats(true)
                .build(&schema)
                .unwrap_or_else(|e| panic!("schema {file}: {e}"))
        })
    }

    /// Every violation of `value` against the schema file `file` (empty when valid).
    pub fn validate(&mut self, file: &str, value: &Value) -> Vec<String> {
        self.validator(file)
            .iter_errors(value)
            .map(|error| format!("{file} at {}: {error}", error.instance_path()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The formats the schemas assert, as the crate checks them, a malformed date-time (hour 25) included.
    #[test]
    fn formats_are_asserted() {
        let mut schemas =
            Schemas::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hsds-3.0"));
        let with = |field: &str, value: &str| {
            serde_json::json!({
                "id": "0190f0e8-0000-7000-8000-000000000001",
                "name": "Servizio",
                "status": "active",
                field: value,
            })
        };
        for (field, good, bad) in [
            (
                "id",
                "0190f0e8-0000-7000-8000-000000000001",
                "0190f0e8-0000-7000-8000",
            ),
            ("url", "https://www.example.it", "www example it"),
            ("email", "info@example.it", "info.example.it"),
            (
                "last_modified",
                "2026-05-28T20:26:40Z",
                "2026-05-28T25:26:40Z",
            ),
        ] {
            assert!(
                schemas
                    .validate("service.json", &with(field, good))
                    .is_empty(),
                "{field}: {good}"
            );
            assert!(
                !schemas
                    .validate("service.json", &with(field, bad))
                    .is_empty(),
                "{field}: {bad}"
            );
        }
    }
}
