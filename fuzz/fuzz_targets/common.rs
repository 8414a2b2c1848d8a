//! Invariants shared by the optional-field targets.

use customcd::job::optional::{FieldType, OptionalField, MAX_VALUES};
use serde_json::Value;

/// What every accepted set of optional fields must satisfy: it serializes, every list holds
/// 1..=MAX_VALUES values, every value fits its declared type, keys are non-blank and unique.
pub fn check_fields(fields: &[OptionalField], input: &str) {
    let body = serde_json::to_string(fields)
        .unwrap_or_else(|e| panic!("accepted fields do not serialize: {e}; input {input:?}"));
    let back: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("serialized fields are not JSON: {e}; body {body}"));
    assert_eq!(back.as_array().map(Vec::len), Some(fields.len()), "body {body}");
    for (i, f) in fields.iter().enumerate() {
        assert!(!f.key.trim().is_empty(), "blank key accepted; input {input:?}");
        assert!(!fields[..i].iter().any(|g| g.key == f.key), "key {:?} accepted twice; input {input:?}", f.key);
        let items: Vec<&Value> = match &f.value {
            Value::Array(list) => {
                assert!(
                    (1..=MAX_VALUES).contains(&list.len()),
                    "list of {} values accepted for {:?}; input {input:?}",
                    list.len(),
                    f.key
                );
                list.iter().collect()
            }
            one => vec![one],
        };
        for v in items {
            let fits = match f.ty {
                FieldType::String => v.is_string(),
                FieldType::Integer => v.is_i64() || v.is_u64(),
                FieldType::Float => v.as_f64().is_some_and(f64::is_finite),
                FieldType::Duration | FieldType::Timestamp => v.is_u64(),
            };
            assert!(fits, "{v} accepted as a {} for {:?}; input {input:?}", f.ty, f.key);
        }
    }
}
