//! Stored payloads: a job as JSON text (a spooled file, a line of JSON Lines, an element of an
//! array), checked against the contract field by field, with the payload field table deciding
//! which fields exist, which are required and their JSON types.

use serde_json::Value;

use crate::error::Problem;
use crate::job::json_diag;
use crate::job::optional::OptionalInput;
use crate::job::{self, Job};
use crate::vocab::names::{JsonType, Layer, Need, Stack, OPTIONAL_FIELD, PAYLOAD_FIELDS};
use crate::vocab::source::{Source, Sourced};

/// Checks one payload (JSON text) against the contract; `origin` names it in messages.
pub fn validate(text: &str, origin: &str) -> Result<Job, Vec<Problem>> {
    let source = Source::File(origin.to_owned());
    let value = json_diag::parse(text)
        .map_err(|why| vec![Problem::new("payload", why, "fix the JSON").source(source.clone())])?;
    let Value::Object(obj) = value else {
        return Err(vec![Problem::new(
            "payload",
            "must be one JSON object",
            "write the job as {\"job_id\": ..., ...}",
        )
        .source(source)]);
    };
    let mut problems = Vec::new();
    let mut layer = Layer::default();
    for key in obj.keys() {
        if key != OPTIONAL_FIELD && !PAYLOAD_FIELDS.iter().any(|f| f.name() == key) {
            problems.push(
                Problem::new(key.clone(), "is not a field of the Custom CD API", "remove it").source(source.clone()),
            );
        }
    }
    for field in PAYLOAD_FIELDS.iter().filter(|f| f.need == Need::Required) {
        if !obj.contains_key(field.name()) {
            problems.push(Problem::new(field.name(), "is required in a payload", "add it").source(source.clone()));
        }
    }
    for field in PAYLOAD_FIELDS {
        let (name, key, is_string) = (field.name(), field.key, field.json == JsonType::String);
        let Some(v) = obj.get(name) else { continue };
        let text = match (v, is_string) {
            (Value::String(s), true) => Some(s.clone()),
            (Value::Number(n), false) if n.is_u64() || n.is_i64() => Some(n.to_string()),
            _ => None,
        };
        match text {
            Some(t) => layer.set(key, Sourced::new(t, source.clone())),
            None => problems.push(
                Problem::new(
                    name,
                    if is_string {
                        "must be a JSON string"
                    } else {
                        "must be a JSON integer, not a quoted string or a fraction"
                    },
                    "fix its type",
                )
                .value(v.to_string())
                .source(source.clone()),
            ),
        }
    }
    let optional = obj
        .get(OPTIONAL_FIELD)
        .map(|o| OptionalInput { specs: Vec::new(), json: Some(Sourced::new(o.to_string(), source.clone())) });
    let mut stack = Stack::default();
    stack.push(layer);
    let optional: Vec<OptionalInput> = optional.into_iter().collect();
    job::resolve_stored(&stack, &optional, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"job_id":"1","commit_sha":"a2e7da86cc392417b0d9f605b28038aae80b002f","service_id":2,"job_start_time":1704018030,"job_duration":300,"status":"Succeeded","repo_id":"12345","optional":[{"key":"lead_time","value":20,"type":"duration"}]}"#;

    #[test]
    fn a_blank_job_id_in_a_stored_payload_is_refused_not_sent_empty() {
        let blank = GOOD.replace("\"job_id\":\"1\"", "\"job_id\":\"   \"");
        let p = validate(&blank, "a.json").expect_err("blank job_id");
        assert!(p.iter().any(|p| p.field == "job_id" && p.rule.contains("blank")), "{p:?}");
    }

    #[test]
    fn a_valid_payload_round_trips_exactly() {
        let job = validate(GOOD, "a.json").expect("valid");
        assert_eq!(job.body(), GOOD);
    }

    #[test]
    fn payload_types_are_those_of_the_contract() {
        let quoted = GOOD.replace("\"service_id\":2", "\"service_id\":\"2\"");
        let p = validate(&quoted, "a.json").expect_err("quoted service_id");
        assert!(p.iter().any(|p| p.field == "service_id" && p.rule.contains("JSON integer")), "{p:?}");
        let p = validate(&GOOD.replace("\"job_duration\":300,", ""), "a.json").expect_err("missing");
        assert!(p.iter().any(|p| p.field == "job_duration" && p.rule.contains("required")));
        let p =
            validate(&GOOD.replace("\"job_id\":\"1\"", "\"job_id\":\"1\",\"extra\":1"), "a.json").expect_err("unknown");
        assert!(p.iter().any(|p| p.field == "extra"));
        let p = validate("{'job_id': '1',}", "a.json").expect_err("not JSON");
        assert!(p[0].rule.contains("double quotes"), "{}", p[0]);
        assert!(p[0].to_string().contains("file a.json"));
    }

    #[test]
    fn the_vendor_sample_with_its_flaws_is_explained() {
        let sample = "{\n\"job_id\": \"1\",\n\"status\": \"Succeeded\",\n\"commit_sha\": \"a2e7da86cc392417b0d9f605b28038aae80b002f\",\n\"triggered_by\": \"testuser@org.com\"\n\"repo_id\": \u{201C}12345\u{201D},\n}";
        let p = validate(sample, "sample.json").expect_err("invalid");
        assert!(p[0].rule.contains("line 6"), "{}", p[0]);
        assert!(p[0].rule.contains("comma is missing"), "{}", p[0]);
    }
}
