//! A JSON Schema validator for exactly the keywords the HSDS 3.0 schemas use: `type`,
//! `properties`, `required`, `items`, `enum`, `$ref` to a sibling file, and `format` (uuid,
//! uri, email, date-time, date). The HSDS files also carry Frictionless Data annotations
//! (`constraints`, `datapackage_metadata`, …), which describe CSV packaging, not JSON. Any
//! keyword outside these two lists makes validation panic, so a schema this validator does
//! not understand can never pass silently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Keywords that only annotate, with no effect on JSON validity.
const ANNOTATIONS: [&str; 11] = [
    "name",
    "title",
    "description",
    "constraints",
    "example",
    "core",
    "path",
    "datapackage_metadata",
    "datapackage_type",
    "tabular_required",
    "order",
];

pub struct Schemas {
    dir: PathBuf,
    cache: HashMap<String, Value>,
}

impl Schemas {
    pub fn new(dir: &Path) -> Schemas {
        Schemas {
            dir: dir.to_owned(),
            cache: HashMap::new(),
        }
    }

    fn load(&mut self, file: &str) -> Value {
        if let Some(schema) = self.cache.get(file) {
            return schema.clone();
        }
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("schema {}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
        self.cache.insert(file.to_owned(), schema.clone());
        schema
    }

    /// Every violation of `value` against the schema file `file` (empty when valid).
    pub fn validate(&mut self, file: &str, value: &Value) -> Vec<String> {
        let schema = self.load(file);
        let mut errors = Vec::new();
        self.check(&schema, value, file, &mut errors);
        errors
    }

    fn check(&mut self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(schema) = schema.as_object() else {
            panic!("{at}: schema is not an object");
        };
        for key in schema.keys() {
            let known = ANNOTATIONS.contains(&key.as_str())
                || matches!(
                    key.as_str(),
                    "type" | "properties" | "required" | "items" | "enum" | "$ref" | "format"
                );
            assert!(known, "{at}: schema keyword {key:?} is not supported");
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let referenced = self.load(reference);
            self.check(&referenced, value, &format!("{at}→{reference}"), errors);
        }
        if let Some(kind) = schema.get("type") {
            let kinds: Vec<&str> = match kind {
                Value::String(kind) => vec![kind.as_str()],
                Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
                other => panic!("{at}: type {other}"),
            };
            let matches = kinds.iter().any(|kind| match *kind {
                "string" => value.is_string(),
                "number" => value.is_number(),
                "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "object" => value.is_object(),
                "null" => value.is_null(),
                other => panic!("{at}: unknown type {other}"),
            });
            if !matches {
                errors.push(format!("{at}: {value} is not of type {kinds:?}"));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
        if let (Some(format), Some(text)) =
            (schema.get("format").and_then(Value::as_str), value.as_str())
            && !format_holds(format, text)
        {
            errors.push(format!("{at}: {text:?} is not a valid {format}"));
        }
        if let Some(object) = value.as_object() {
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !object.contains_key(name) {
                    errors.push(format!("{at}: required property {name:?} is missing"));
                }
            }
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in object {
                    if let Some(property_schema) = properties.get(name) {
                        self.check(property_schema, property, &format!("{at}.{name}"), errors);
                    }
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (index, item) in array.iter().enumerate() {
                self.check(items, item, &format!("{at}[{index}]"), errors);
            }
        }
    }
}

fn format_holds(format: &str, text: &str) -> bool {
    let hex_groups = |text: &str, lens: &[usize]| {
        let groups: Vec<&str> = text.split('-').collect();
        groups.len() == lens.len()
            && groups
                .iter()
                .zip(lens)
                .all(|(g, len)| g.len() == *len && g.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let date = |text: &str| {
        let parts: Vec<&str> = text.split('-').collect();
        parts.len() == 3
            && parts[0].len() == 4
            && parts[1].len() == 2
            && parts[2].len() == 2
            && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
            && (1..=12).contains(&parts[1].parse::<u32>().unwrap_or(0))
            && (1..=31).contains(&parts[2].parse::<u32>().unwrap_or(0))
    };
    match format {
        "uuid" => hex_groups(text, &[8, 4, 4, 4, 12]),
        "uri" => {
            text.split_once(':').is_some_and(|(scheme, rest)| {
                !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                    && !rest.is_empty()
            }) && !text.chars().any(char::is_whitespace)
        }
        "email" => text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !text.chars().any(char::is_whitespace)
        }),
        "date" => date(text),
        "date-time" => text.split_once('T').is_some_and(|(day, time)| {
            date(day)
                && time.len() >= 9
                && (time.ends_with('Z') || time.contains('+') || time.rfind('-').is_some())
                && time[..8].bytes().enumerate().all(|(i, b)| {
                    if i == 2 || i == 5 {
                        b == b':'
                    } else {
                        b.is_ascii_digit()
                    }
                })
        }),
        other => panic!("format {other:?} is not supported"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(format_holds("uuid", "0190f0e8-0000-7000-8000-000000000001"));
        assert!(!format_holds("uuid", "0190f0e8-0000-7000-8000"));
        assert!(format_holds("date-time", "2026-05-28T20:26:40Z"));
        assert!(!format_holds("date-time", "2026-05-28 20:26:40"));
        assert!(format_holds("uri", "https://www.example.it"));
        assert!(!format_holds("uri", "www.example.it"));
    }
}
