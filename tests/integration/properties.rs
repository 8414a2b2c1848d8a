//! Properties of the parsers, checked on generated input (issue 5, "Bad input at scale"):
//! git URL normalisation and redaction, job validation and the JSON body, and epoch parsing.
//! Fuzzing (fuzz/, ci/fuzz.sh) looks for crashes; these state what the answers must be.

use customcd::git::remote;
use customcd::job::epoch::{self, TimeError};
use customcd::job::status::WORDS;
use customcd::job::{self, Inputs, Job};
use customcd::vocab::names::{flag_name, Key, Layer, Stack};
use customcd::vocab::source::{Source, Sourced};
use proptest::prelude::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// (a) Git URLs

/// One path segment of an owner/name, as hosts allow them: `[A-Za-z0-9._-]{1,20}`, minus the
/// one shape that `repo_name` gives a meaning of its own anywhere in the path: `_git`, the marker
/// Azure DevOps puts between project and repository (`dev.azure.com/org/project/_git/repo`),
/// which is dropped from the name. (`.`, `..` and a leading `-` are kept verbatim, so they are
/// generated.)
///
/// `v3` leads Azure's SSH paths (`ssh.dev.azure.com:v3/org/project/repo`) and is dropped only on
/// Azure hosts; the hosts below are not Azure, so it is generated, and often. A name ending in
/// `.git` is excluded by [`owner_name`] for the last segment only.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9._-]{1,20}",
        1 => prop::sample::select(vec![".", "..", "-", "v3", "-v3", ".git", "a.git"]).prop_map(str::to_owned),
    ]
    .prop_filter("not the Azure marker", |s| s != "_git")
}

/// `owner/name` (or `group/sub/name`) of 1 to 3 segments. The last one must not end in `.git`:
/// `https://host/P` and `https://host/P.git` are the same repository, so a trailing `.git` is
/// the suffix and not part of the name.
fn owner_name() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 1..=3)
        .prop_filter("the last segment does not end in .git", |segs| !segs.last().is_some_and(|s| s.ends_with(".git")))
        .prop_map(|segs| segs.join("/"))
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("github.com".to_owned()),
        Just("gitlab.example.com".to_owned()),
        "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
    ]
}

/// A password or token as CI systems embed them: what RFC 3986 allows in user-info (unreserved
/// and sub-delimiter characters, `:` and `%HH` escapes), plus the raw `@` and `/` that careless
/// tokens carry (git refuses such URLs, but `GIT_URL` and friends still hold them, and they must
/// not leak), at least 4 long so that it is a meaningful needle. Escapes stay in ASCII: git's URL
/// parser decodes the password to text, and a bare `%` or an escape that decodes to bytes that are
/// not UTF-8 (`%aa`) makes it refuse the whole URL, so `repo_name` finds no name (credentials
/// never reach the name either way).
///
/// Two shapes are left out, because git (like any URL parser) reads them as something other
/// than a password, and so do `https://host:8443/a@b` and `https://u:p@host/a@b`, which must
/// keep their paths: digits up to the first `/` (`user:123/abc@host` is host `user`, port 123),
/// and an `@` before the first `/` (`user:p@a/bc@host` is password `p` on host `a`).
fn password() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![8 => "[A-Za-z0-9._~!$&'()*+,;=:-]", 1 => "%[2-7][0-9A-Fa-f]", 2 => "[@/:]"],
        4..=40,
    )
    .prop_map(|parts| parts.concat())
    .prop_filter("git reads it as a password", |p: &String| match p.split_once('/') {
        None => true,
        Some((before, _)) => {
            !before.contains('@') && (before.is_empty() || !before.bytes().all(|b| b.is_ascii_digit()))
        }
    })
}

/// A user name for `https://USER:PASS@`.
fn user() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{1,15}"
}

/// Whether `user:pass@host:path` is scp-like: a password starting `//` makes it read as
/// `user://...`, a URL whose scheme is the user name, to git as to customcd.
fn scp_like(pass: &str) -> bool {
    !pass.starts_with("//")
}

/// Every URL form a remote takes, for path `p` on `host`.
fn url_forms(host: &str, p: &str, user: &str, pass: &str) -> Vec<String> {
    let mut forms = vec![
        format!("git@{host}:{p}.git"),
        format!("ssh://git@{host}/{p}.git"),
        format!("ssh://git@{host}:2222/{p}.git"),
        format!("https://{host}/{p}"),
        format!("https://{host}/{p}.git"),
        format!("https://{user}:{pass}@{host}/{p}.git"),
        format!("ssh://{user}:{pass}@{host}:22/{p}"),
        format!("https://{host}/{p}.git?access_token={pass}"),
        format!("git://{host}/{p}.git"),
    ];
    if scp_like(pass) {
        forms.push(format!("{user}:{pass}@{host}:{p}.git"));
    }
    forms
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_url_form_normalises_to_owner_and_name(
        p in owner_name(),
        host in host(),
        user in user(),
        pass in password(),
    ) {
        for url in url_forms(&host, &p, &user, &pass) {
            prop_assert_eq!(remote::repo_name(&url), Some(p.clone()), "{}", url);
        }
    }

    #[test]
    fn redaction_never_leaves_the_password(
        p in owner_name(),
        host in host(),
        user in user(),
        pass in password(),
        scheme in prop::sample::select(vec!["https", "http", "ssh", "git"]),
    ) {
        let url = format!("{scheme}://{user}:{pass}@{host}/{p}.git");
        let redacted = remote::redact(&url);
        prop_assert_eq!(&redacted, &format!("{scheme}://***@{host}/{p}.git"));
        let scp = format!("{user}:{pass}@{host}:{p}.git");
        if scp_like(&pass) {
            prop_assert_eq!(remote::redact(&scp), format!("***@{host}:{p}.git"));
        }
        let query = format!("https://{host}/{p}.git?access_token={pass}#{pass}");
        prop_assert_eq!(remote::redact(&query), format!("https://{host}/{p}.git?***#***"));
        let forms = if scp_like(&pass) { vec![&url, &scp, &query] } else { vec![&url, &query] };
        for url in forms {
            let bare = format!("{host}/{p}.git");
            if !bare.contains(&pass) {
                let shown = remote::redact(url);
                prop_assert!(!shown.contains(&pass), "{} -> {}", url, shown);
                let name = remote::repo_name(url).unwrap_or_default();
                prop_assert!(!name.contains(&pass), "{} -> {}", url, name);
            }
            // Redacting what is already redacted changes nothing.
            let once = remote::redact(url);
            prop_assert_eq!(remote::redact(&once), once.clone());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (b) Validation and the JSON body

fn resolve(pairs: &[(Key, String)]) -> Result<Job, Vec<customcd::error::Problem>> {
    let mut layer = Layer::default();
    for (k, v) in pairs {
        layer.set(*k, Sourced::new(v.clone(), Source::Flag(flag_name(*k))));
    }
    let mut stack = Stack::default();
    stack.push(layer);
    job::resolve(&Inputs {
        stack: &stack,
        optional: &[],
        git_error: None,
        // Far enough ahead that every valid start plus every valid duration has ended.
        now: 4_000_000_000,
        hints: &[],
        context: Vec::new(),
        primary: Vec::new(),
        change_set: None,
    })
}

fn sha() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9a-fA-F]{40}", "[0-9a-fA-F]{64}"]
}

fn is_full_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A status word from the accepted list, in any case, with `-`, `_` or a space between words,
/// and the API value it means.
fn status_word() -> impl Strategy<Value = (String, &'static str)> {
    (
        prop::sample::select(WORDS.to_vec()),
        prop::collection::vec(any::<bool>(), 16),
        prop::sample::select(vec![" ", "_", "-"]),
    )
        .prop_map(|((word, status), upper, sep)| {
            let cased: String = word
                .chars()
                .zip(upper.iter().cycle())
                .map(|(c, &u)| if u { c.to_ascii_uppercase() } else { c })
                .collect();
            (cased.replace(' ', sep), status.as_api())
        })
}

/// The fields of a valid job: sha, service id, start, duration, status word and its API value,
/// repo name, job id (None: the default).
type ValidJob = (String, u64, i64, u64, (String, &'static str), String, Option<String>);

fn valid_job() -> impl Strategy<Value = ValidJob> {
    (
        sha(),
        1..=2_147_483_647_u64,
        // From the earliest start a job can have (2000-01-01) on.
        946_684_800..1_850_000_000_i64,
        0..=2_147_483_647_u64,
        status_word(),
        owner_name(),
        prop::option::of("[A-Za-z0-9._-]{1,40}"),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_fields_resolve_and_round_trip_through_the_body(
        (sha, service, start, duration, (word, api), repo, job_id) in valid_job(),
    ) {
        let mut pairs = vec![
            (Key::CommitSha, sha.clone()),
            (Key::ServiceId, service.to_string()),
            (Key::JobStartTime, start.to_string()),
            (Key::JobDuration, duration.to_string()),
            (Key::Status, word.clone()),
            (Key::RepoName, repo.clone()),
        ];
        if let Some(id) = &job_id {
            pairs.push((Key::JobId, id.clone()));
        }
        let job = resolve(&pairs).map_err(|p| TestCaseError::fail(format!("{p:?}")))?;
        let body: Value = serde_json::from_str(&job.body())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let lower = sha.to_ascii_lowercase();
        let want_id = job_id.unwrap_or_else(|| format!("{}-{start}", &lower[..12]));
        prop_assert_eq!(&body["commit_sha"], &Value::from(lower));
        prop_assert_eq!(&body["service_id"], &Value::from(service));
        prop_assert_eq!(&body["job_start_time"], &Value::from(start));
        prop_assert_eq!(&body["job_duration"], &Value::from(duration));
        prop_assert_eq!(&body["status"], &Value::from(api));
        prop_assert_eq!(&body["repo_name"], &Value::from(repo));
        prop_assert_eq!(&body["job_id"], &Value::from(want_id));
        prop_assert!(body.get("repo_id").is_none());
    }

    #[test]
    fn a_sha_that_is_not_40_or_64_hex_is_refused(
        bad in prop_oneof![
            any::<String>(),
            "[0-9a-fA-F]{0,100}",
            // One character off a full sha: a non-hex letter, a space or a non-ASCII digit inside.
            ("[0-9a-f]{20}", "[g-zG-Z \u{0660}\u{ff10}.]", "[0-9a-f]{19}|[0-9a-f]{43}")
                .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        ],
        (_, service, start, duration, (word, _), repo, _) in valid_job(),
    ) {
        prop_assume!(!is_full_sha(bad.trim()));
        let pairs = [
            (Key::CommitSha, bad.clone()),
            (Key::ServiceId, service.to_string()),
            (Key::JobStartTime, start.to_string()),
            (Key::JobDuration, duration.to_string()),
            (Key::Status, word),
            (Key::RepoName, repo),
        ];
        match resolve(&pairs) {
            Ok(job) => prop_assert!(false, "{:?} accepted as {}", bad, job.commit_sha.value),
            Err(problems) => {
                let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
                prop_assert_eq!(fields, vec!["commit_sha"], "{:?}", bad);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (c) Epoch seconds

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn epoch_seconds_below_10_pow_11_are_taken_as_they_are(n in 0..100_000_000_000_i64) {
        prop_assert_eq!(epoch::parse_time(&n.to_string()), Ok(n));
    }

    #[test]
    fn epoch_counts_from_10_pow_11_are_refused_as_milliseconds(
        n in 100_000_000_000_i64..1_000_000_000_000_000,
    ) {
        match epoch::parse_time(&n.to_string()) {
            Err(TimeError::Milliseconds { seconds, .. }) => prop_assert_eq!(seconds, n / 1000),
            other => prop_assert!(false, "{} -> {:?}", n, other),
        }
    }
}
