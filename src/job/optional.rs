//! Optional fields: reading them from `--field KEY[:TYPE]=VALUE` and from JSON in the API's own
//! format, and checking each against the contract's types and limits.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::error::{quote, Problem};
use crate::job::epoch;
use crate::job::json_diag;
use crate::vocab::source::{Source, Sourced};

/// Most optional fields one job may carry, and most values one field's list may hold.
pub(crate) const MAX_FIELDS: usize = 20;
pub const MAX_VALUES: usize = 20;

/// The contract's optional-field types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Integer,
    Float,
    Duration,
    Timestamp,
}

impl FieldType {
    const ALL: [FieldType; 5] =
        [FieldType::String, FieldType::Integer, FieldType::Float, FieldType::Duration, FieldType::Timestamp];

    pub fn parse(word: &str) -> Option<FieldType> {
        let w = word.trim().to_ascii_lowercase();
        FieldType::ALL.into_iter().find(|t| t.name() == w)
    }

    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Float => "float",
            FieldType::Duration => "duration",
            FieldType::Timestamp => "timestamp",
        }
    }

    /// "a string field", "an integer field": the type with its article, for messages.
    fn article(self) -> String {
        let name = self.to_string();
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        format!("{article} {name}")
    }

    fn what(self) -> &'static str {
        match self {
            FieldType::String => "a JSON string",
            FieldType::Integer => "a whole number",
            FieldType::Float => "a number",
            FieldType::Duration => "whole seconds, 0 or more",
            FieldType::Timestamp => "epoch seconds (a whole number from 0, below 10^11: not milliseconds)",
        }
    }

    /// Whether a JSON value fits this type.
    fn fits(self, v: &Value) -> bool {
        match self {
            FieldType::String => v.is_string(),
            // As `--field` reads them: integers fit an i64, timestamps are seconds, not milliseconds.
            FieldType::Integer => v.is_i64(),
            FieldType::Float => v.is_number(),
            FieldType::Duration => v.is_u64(),
            FieldType::Timestamp => v.as_u64().is_some_and(|t| t < 100_000_000_000),
        }
    }

    /// Reads one `--field` value as this type.
    fn read(self, text: &str) -> Result<Value, String> {
        let t = text.trim();
        match self {
            FieldType::String => Ok(Value::String(text.to_owned())),
            FieldType::Integer => t.parse::<i64>().map(Value::from).map_err(|_| "is not a whole number".to_owned()),
            FieldType::Float => match t.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Value::from(f)),
                _ => Err("is not a finite number".to_owned()),
            },
            FieldType::Duration => {
                t.parse::<u64>().map(Value::from).map_err(|_| "is not whole seconds (0 or more)".to_owned())
            }
            FieldType::Timestamp => epoch::parse_time(t).map(Value::from).map_err(|e| e.to_string()),
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One optional field, as sent: `{"key": K, "value": V, "type": T}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptionalField {
    pub key: String,
    pub value: Value,
    #[serde(rename = "type")]
    pub ty: FieldType,
    #[serde(skip)]
    pub source: Source,
}

/// What one configuration source said about optional fields.
#[derive(Debug, Default, Clone)]
pub struct OptionalInput {
    /// `KEY[:TYPE]=VALUE` specs, in the order given.
    pub specs: Vec<Sourced<String>>,
    /// A JSON array in the API's format.
    pub json: Option<Sourced<String>>,
}

const FIELD_NAME: &str = "optional";

/// Combines the sources' optional fields, highest precedence first: a key set by a higher source
/// replaces the same key from a lower one; the same key twice within one source is an error
/// (except repeated `--field`s, which make a list).
pub(crate) fn assemble(inputs: &[OptionalInput], problems: &mut Vec<Problem>) -> Vec<OptionalField> {
    let mut out: Vec<OptionalField> = Vec::new();
    for input in inputs {
        let mut mine = from_specs(&input.specs, problems);
        if let Some(json) = &input.json {
            for f in from_json(json, problems) {
                if mine.iter().any(|m| m.key == f.key) {
                    problems.push(
                        Problem::new(
                            format!("{FIELD_NAME}.{}", f.key),
                            "the same key is given twice in one source",
                            "give each key once: either as --field or in the JSON",
                        )
                        .source(f.source.clone()),
                    );
                } else {
                    mine.push(f);
                }
            }
        }
        for f in mine {
            if !out.iter().any(|o| o.key == f.key) {
                out.push(f);
            }
        }
    }
    out
}

/// Parses `KEY[:TYPE]=VALUE` specs; repeating a key makes a list.
pub fn from_specs(specs: &[Sourced<String>], problems: &mut Vec<Problem>) -> Vec<OptionalField> {
    let mut out: Vec<OptionalField> = Vec::new();
    for spec in specs {
        let Some(field) = parse_spec(spec, problems) else {
            continue;
        };
        match out.iter_mut().find(|f| f.key == field.key) {
            None => out.push(field),
            Some(existing) if existing.ty != field.ty => problems.push(
                Problem::new(
                    format!("{FIELD_NAME}.{}", field.key),
                    format!("is given as both {} and {}", existing.ty, field.ty),
                    "give every value of one key the same type",
                )
                .value(spec.value.clone())
                .source(spec.source.clone()),
            ),
            Some(existing) => {
                // A repeated key turns the value into a list, in the order given.
                let prev = std::mem::take(&mut existing.value);
                let mut list = match prev {
                    Value::Array(items) => items,
                    one => vec![one],
                };
                list.push(field.value);
                existing.value = Value::Array(list);
            }
        }
    }
    for f in &out {
        check_list_len(f, problems);
    }
    out
}

fn parse_spec(spec: &Sourced<String>, problems: &mut Vec<Problem>) -> Option<OptionalField> {
    let text = &spec.value;
    let problem =
        |rule: String, fix: &str| Problem::new(FIELD_NAME, rule, fix).value(text.clone()).source(spec.source.clone());
    let Some((lhs, value)) = text.split_once('=') else {
        problems.push(problem(
            "a field is written KEY[:TYPE]=VALUE".to_owned(),
            "add =VALUE, e.g. --field microservice=frontend or --field lead_time:duration=20",
        ));
        return None;
    };
    let (key, ty) = match lhs.rsplit_once(':') {
        Some((key, ty)) => match FieldType::parse(ty) {
            Some(t) => (key.trim(), t),
            None => {
                problems.push(problem(
                    format!("{} is not a field type", quote(ty)),
                    "use one of string, integer, float, duration, timestamp",
                ));
                return None;
            }
        },
        None => (lhs.trim(), FieldType::String),
    };
    if key.is_empty() {
        problems.push(problem("the key is empty".to_owned(), "name the field before = (or before :TYPE)"));
        return None;
    }
    match ty.read(value) {
        Ok(v) => Some(OptionalField { key: key.to_owned(), value: v, ty, source: spec.source.clone() }),
        Err(why) => {
            problems.push(
                Problem::new(
                    format!("{FIELD_NAME}.{key}"),
                    format!("{} {why}; {} field holds {}", quote(value), ty.article(), ty.what()),
                    "fix the value or the :TYPE",
                )
                .value(text.clone())
                .source(spec.source.clone()),
            );
            None
        }
    }
}

/// Parses and checks a JSON array of `{"key", "value", "type"}` entries.
pub fn from_json(json: &Sourced<String>, problems: &mut Vec<Problem>) -> Vec<OptionalField> {
    let problem = |field: String, rule: String, fix: &str| Problem::new(field, rule, fix).source(json.source.clone());
    let value = match json_diag::parse(&json.value) {
        Ok(v) => v,
        Err(why) => {
            problems.push(problem(
                FIELD_NAME.to_owned(),
                why,
                "fix the JSON; the format is [{\"key\": \"name\", \"value\": \"v\", \"type\": \"string\"}]",
            ));
            return Vec::new();
        }
    };
    let Value::Array(entries) = value else {
        problems.push(problem(
            FIELD_NAME.to_owned(),
            "must be a JSON array of {\"key\", \"value\", \"type\"} objects".to_owned(),
            "wrap the entries in [ ]",
        ));
        return Vec::new();
    };
    let mut out: Vec<OptionalField> = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let at = format!("{FIELD_NAME}[{i}]");
        let Value::Object(mut obj) = entry else {
            problems.push(problem(
                at,
                "must be an object {\"key\", \"value\", \"type\"}".to_owned(),
                "write each entry as an object",
            ));
            continue;
        };
        let unknown: Vec<String> =
            obj.keys().filter(|k| !matches!(k.as_str(), "key" | "value" | "type")).cloned().collect();
        if !unknown.is_empty() {
            problems.push(problem(
                at.clone(),
                format!("has members the API does not know: {}", unknown.join(", ")),
                "keep only key, value and type",
            ));
        }
        let key = match obj.remove("key") {
            Some(Value::String(k)) if !k.trim().is_empty() => k,
            other => {
                let seen = other.map_or("nothing".to_owned(), |v| v.to_string());
                problems.push(problem(
                    at,
                    format!("key must be a non-empty string, found {seen}"),
                    "add \"key\": \"name\"",
                ));
                continue;
            }
        };
        let at = format!("{FIELD_NAME}.{key}");
        let ty = match obj.remove("type") {
            Some(Value::String(t)) => match FieldType::parse(&t) {
                Some(ty) => ty,
                None => {
                    problems.push(problem(
                        at,
                        format!("type {} is not a field type", quote(&t)),
                        "use one of string, integer, float, duration, timestamp",
                    ));
                    continue;
                }
            },
            other => {
                let seen = other.map_or("nothing".to_owned(), |v| v.to_string());
                problems.push(problem(
                    at,
                    format!("type must be a string, found {seen}"),
                    "add \"type\": \"string\" (or integer, float, duration, timestamp)",
                ));
                continue;
            }
        };
        let Some(value) = obj.remove("value") else {
            problems.push(problem(at, "has no value".to_owned(), "add \"value\": ... (one value or a list)"));
            continue;
        };
        let items: Vec<&Value> = match &value {
            Value::Array(list) => list.iter().collect(),
            one => vec![one],
        };
        if let Some(bad) = items.iter().find(|v| !ty.fits(v)) {
            problems.push(
                problem(
                    at.clone(),
                    format!("{} field holds {}, found {bad}", ty.article(), ty.what()),
                    "fix the value or the type",
                )
                .value(value.to_string()),
            );
            continue;
        }
        if out.iter().any(|f| f.key == key) {
            problems.push(problem(
                at,
                "the same key appears twice".to_owned(),
                "give each key once; a list value holds several values",
            ));
            continue;
        }
        let field = OptionalField { key, value, ty, source: json.source.clone() };
        check_list_len(&field, problems);
        out.push(field);
    }
    out
}

fn check_list_len(f: &OptionalField, problems: &mut Vec<Problem>) {
    if let Value::Array(list) = &f.value {
        if list.is_empty() || list.len() > MAX_VALUES {
            problems.push(
                Problem::new(
                    format!("{FIELD_NAME}.{}", f.key),
                    format!("a list holds 1 to {MAX_VALUES} values, found {}", list.len()),
                    "shorten the list",
                )
                .source(f.source.clone()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flag(v: &str) -> Sourced<String> {
        Sourced::new(v.to_owned(), Source::Flag("--field".into()))
    }

    fn specs(v: &[&str]) -> (Vec<OptionalField>, Vec<Problem>) {
        let mut problems = Vec::new();
        let specs: Vec<_> = v.iter().map(|s| flag(s)).collect();
        let out = from_specs(&specs, &mut problems);
        (out, problems)
    }

    fn json_of(fields: &[OptionalField]) -> Value {
        serde_json::to_value(fields).expect("fields serialize")
    }

    #[test]
    fn messages_name_the_type_with_the_right_article() {
        assert_eq!(FieldType::Integer.article(), "an integer");
        assert_eq!(FieldType::String.article(), "a string");
        assert_eq!(FieldType::Duration.article(), "a duration");
    }

    #[test]
    fn a_field_defaults_to_string_and_keeps_the_value_verbatim() {
        let (f, p) = specs(&["microservice=front=end "]);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(json_of(&f), json!([{"key": "microservice", "value": "front=end ", "type": "string"}]));
    }

    #[test]
    fn typed_fields_become_json_numbers() {
        let (f, p) = specs(&["n:integer=-3", "x:float=20.5", "lead:duration=20", "qa:timestamp=2024-01-01T10:00:00Z"]);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(
            json_of(&f),
            json!([
                {"key": "n", "value": -3, "type": "integer"},
                {"key": "x", "value": 20.5, "type": "float"},
                {"key": "lead", "value": 20, "type": "duration"},
                {"key": "qa", "value": 1_704_103_200, "type": "timestamp"},
            ])
        );
    }

    #[test]
    fn repeating_a_key_makes_a_list_in_order() {
        let (f, p) = specs(&["ms=frontend", "ms=backend", "ms=worker"]);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(json_of(&f), json!([{"key": "ms", "value": ["frontend", "backend", "worker"], "type": "string"}]));
    }

    #[test]
    fn bad_specs_name_the_problem() {
        for (spec, needle) in [
            ("novalue", "KEY[:TYPE]=VALUE"),
            ("k:number=1", "not a field type"),
            ("=v", "key is empty"),
            ("n:integer=1.5", "not a whole number"),
            ("d:duration=-1", "whole seconds"),
            ("f:float=NaN", "finite"),
            ("t:timestamp=1704103200000", "milliseconds"),
        ] {
            let (_, p) = specs(&[spec]);
            assert_eq!(p.len(), 1, "{spec}: {p:?}");
            assert!(p[0].to_string().contains(needle), "{spec}: {}", p[0]);
            assert_eq!(p[0].source, Some(Source::Flag("--field".into())));
        }
    }

    #[test]
    fn mixed_types_for_one_key_are_an_error() {
        let (_, p) = specs(&["k=a", "k:integer=1"]);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn more_than_twenty_values_in_a_list_is_an_error() {
        let many: Vec<String> = (0..21).map(|i| format!("k={i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let (_, p) = specs(&refs);
        assert_eq!(p.len(), 1);
        assert!(p[0].rule.contains("1 to 20"));
        let (_, p) = specs(&refs[..20]);
        assert!(p.is_empty());
    }

    fn from_json_text(text: &str) -> (Vec<OptionalField>, Vec<Problem>) {
        let mut problems = Vec::new();
        let src = Sourced::new(text.to_owned(), Source::Var("CUSTOMCD_OPTIONAL".into()));
        let out = from_json(&src, &mut problems);
        (out, problems)
    }

    #[test]
    fn the_vendor_sample_entries_parse_when_written_as_json() {
        let (f, p) = from_json_text(
            r#"[{"key": "microservice", "value": ["frontend", "backend"], "type": "string"},
                {"key": "lead_time", "value": 20, "type": "duration"},
                {"key": "float_key", "value": 20.5, "type": "float"},
                {"key": "qa_approved_on", "value": 1704018030, "type": "timestamp"},
                {"key": "one", "value": ["only"], "type": "string"}]"#,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(f.len(), 5);
        // A one-element list stays a list: the user chose it.
        assert_eq!(f[4].value, json!(["only"]));
    }

    #[test]
    fn the_vendor_sample_as_pasted_gets_a_precise_json_error() {
        let (_, p) = from_json_text(
            "[\n{\n\"key\": 'microservice',\n\"value\": ['frontend', 'backend'],\n\"type\": 'string'\n},\n]",
        );
        assert_eq!(p.len(), 1);
        let text = p[0].to_string();
        assert!(text.contains("line 3, column 8"), "{text}");
        assert!(text.contains("double quotes"), "{text}");
        assert!(text.contains("variable CUSTOMCD_OPTIONAL"), "{text}");
    }

    #[test]
    fn json_entries_are_checked_against_the_contract() {
        for (text, needle) in [
            (r#"{"key":"a"}"#, "JSON array"),
            (r#"[1]"#, "must be an object"),
            (r#"[{"value":1,"type":"integer"}]"#, "key must be a non-empty string"),
            (r#"[{"key":"","value":1,"type":"integer"}]"#, "key must be a non-empty string"),
            (r#"[{"key":"a","value":1}]"#, "type must be a string"),
            (r#"[{"key":"a","value":1,"type":"number"}]"#, "not a field type"),
            (r#"[{"key":"a","type":"integer"}]"#, "has no value"),
            (r#"[{"key":"a","value":1.5,"type":"integer"}]"#, "whole number"),
            (r#"[{"key":"a","value":"1","type":"integer"}]"#, "whole number"),
            (r#"[{"key":"a","value":-1,"type":"duration"}]"#, "whole seconds"),
            (r#"[{"key":"a","value":"2024-01-01","type":"timestamp"}]"#, "epoch seconds"),
            (r#"[{"key":"a","value":1,"type":"string"}]"#, "JSON string"),
            (r#"[{"key":"a","value":[],"type":"string"}]"#, "1 to 20"),
            (r#"[{"key":"a","value":"x","type":"string"},{"key":"a","value":"y","type":"string"}]"#, "twice"),
            (r#"[{"key":"a","value":"x","type":"string","extra":1}]"#, "does not know"),
        ] {
            let (_, p) = from_json_text(text);
            assert!(!p.is_empty(), "{text} should be rejected");
            assert!(p.iter().any(|p| p.to_string().contains(needle)), "{text}: {p:?}");
        }
    }

    #[test]
    fn higher_sources_replace_keys_of_lower_ones() {
        let high = OptionalInput { specs: vec![flag("env=prod")], json: None };
        let low = OptionalInput {
            specs: vec![],
            json: Some(Sourced::new(
                r#"[{"key":"env","value":"dev","type":"string"},{"key":"team","value":"x","type":"string"}]"#.into(),
                Source::Var("CUSTOMCD_OPTIONAL".into()),
            )),
        };
        let mut p = Vec::new();
        let out = assemble(&[high, low], &mut p);
        assert!(p.is_empty());
        assert_eq!(
            json_of(&out),
            json!([{"key":"env","value":"prod","type":"string"},{"key":"team","value":"x","type":"string"}])
        );
    }

    #[test]
    fn the_same_key_as_field_and_json_in_one_source_is_an_error() {
        let one = OptionalInput {
            specs: vec![flag("env=prod")],
            json: Some(Sourced::new(
                r#"[{"key":"env","value":"dev","type":"string"}]"#.into(),
                Source::Flag("--optional-json".into()),
            )),
        };
        let mut p = Vec::new();
        assemble(&[one], &mut p);
        assert_eq!(p.len(), 1);
    }
}
