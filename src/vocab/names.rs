//! The named settings: one name per field, shared by flags, `CUSTOMCD_*` variables and action
//! inputs, and the layers of raw values that configuration sources produce.
//!
//! One macro declares each setting once; from it come the clap flags, the serde names that envy
//! reads from `CUSTOMCD_<NAME>` and `INPUT_<NAME>`, and the [`Key`] enum used for provenance. That
//! keeps the three spellings from drifting apart. Nothing here validates: see
//! `Settings::resolve`.

use std::collections::BTreeMap;

use crate::vocab::source::{Source, Sourced};

macro_rules! settings {
    (
        job { $( $(#[$jmeta:meta])* $jname:ident => $jvariant:ident, )* }
        connection { $( $(#[$cmeta:meta])* $cname:ident => $cvariant:ident, )* }
        bulk { $( $(#[$bmeta:meta])* $bname:ident => $bvariant:ident, )* }
    ) => {
        /// Raw values of the job's fields, as one source gives them (strings, unvalidated).
        #[derive(Default, Clone, clap::Args, serde::Deserialize)]
        #[serde(default)]
        pub struct JobValues {
            $( $(#[$jmeta])* pub $jname: Option<String>, )*
        }

        /// Raw values of the connection and behaviour settings, shared by `report` and `send`.
        ///
        /// Deliberately not `Debug`: it may hold the token.
        #[derive(Default, Clone, clap::Args, serde::Deserialize)]
        #[serde(default)]
        pub struct ConnectionValues {
            $( $(#[$cmeta])* pub $cname: Option<String>, )*
        }

        /// Raw values of the settings that only commands sending many jobs have (`send`,
        /// `backfill`).
        #[derive(Default, Clone, clap::Args, serde::Deserialize)]
        #[serde(default)]
        pub struct BulkValues {
            $( $(#[$bmeta])* pub $bname: Option<String>, )*
        }

        /// The name of a setting.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Key { $($jvariant,)* $($cvariant,)* $($bvariant,)* }

        impl Key {
            /// Every setting, in declaration order.
            pub const ALL: &'static [Key] = &[$(Key::$jvariant,)* $(Key::$cvariant,)* $(Key::$bvariant,)*];

            /// The snake_case name: payload field, action input and variable suffix.
            pub fn name(self) -> &'static str {
                match self {
                    $(Key::$jvariant => stringify!($jname),)*
                    $(Key::$cvariant => stringify!($cname),)*
                    $(Key::$bvariant => stringify!($bname),)*
                }
            }
        }

        impl BulkValues {
            fn fill(self, layer: &mut Layer, origin: &impl Fn(Key) -> Source) {
                $( set_if_present(layer, Key::$bvariant, self.$bname, origin); )*
            }
        }

        impl JobValues {
            fn fill(self, layer: &mut Layer, origin: &impl Fn(Key) -> Source) {
                $( set_if_present(layer, Key::$jvariant, self.$jname, origin); )*
            }

            /// Sets the raw value of `key`, when it is one of the job's settings (a command line
            /// that takes only some of them, as `backfill` does, fills them by key).
            pub fn set(&mut self, key: Key, value: Option<String>) {
                match key {
                    $( Key::$jvariant => self.$jname = value, )*
                    _ => {}
                }
            }
        }

        impl ConnectionValues {
            fn fill(self, layer: &mut Layer, origin: &impl Fn(Key) -> Source) {
                $( set_if_present(layer, Key::$cvariant, self.$cname, origin); )*
            }
        }
    };
}

/// Empty (or blank) values count as unset, as GitHub passes every input, set or not.
fn set_if_present(layer: &mut Layer, key: Key, value: Option<String>, origin: &impl Fn(Key) -> Source) {
    if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
        layer.set(key, Sourced::new(v, origin(key)));
    }
}

/// Raw values of every setting, as one source gives them (all strings, unvalidated).
#[derive(Default, Clone, clap::Args, serde::Deserialize)]
#[serde(default)]
pub struct Values {
    #[command(flatten)]
    #[serde(flatten)]
    pub job: JobValues,
    #[command(flatten)]
    #[serde(flatten)]
    pub connection: ConnectionValues,
    #[command(flatten)]
    #[serde(flatten)]
    pub bulk: BulkValues,
}

impl Values {
    /// The values that are set, each tagged with the source `origin` names for its key.
    pub fn into_layer(self, origin: impl Fn(Key) -> Source) -> Layer {
        let mut layer = Layer::default();
        self.job.fill(&mut layer, &origin);
        self.connection.fill(&mut layer, &origin);
        self.bulk.fill(&mut layer, &origin);
        layer
    }
}

settings! {
    job {
    /// Unique identifier of this job run
    #[arg(long, value_name = "ID")]
    job_id => JobId,
    /// Full SHA of the commit deployed, 40 or 64 hex characters
    #[arg(long, value_name = "SHA")]
    commit_sha => CommitSha,
    /// ID of the Custom CD service in Allstacks (an integer)
    #[arg(long, value_name = "N")]
    service_id => ServiceId,
    /// Start of the job: epoch seconds or RFC 3339 (2024-01-01T10:00:00Z)
    #[arg(long, value_name = "TIME")]
    job_start_time => JobStartTime,
    /// Duration of the job in whole seconds
    #[arg(long, value_name = "SECONDS")]
    job_duration => JobDuration,
    /// Succeeded, Failed or On Hold, or a CI word such as success, failure, cancelled
    #[arg(long, value_name = "STATUS")]
    status => Status,
    /// The job's result as the CI system words it, used when status is not set (the action fills it with job.status)
    #[arg(long, value_name = "STATUS")]
    job_status => JobStatus,
    /// When the report is sent: now, or job-end (GitHub Action only: by the action's post stage, with the job's final status)
    #[arg(long, value_name = "WHEN")]
    report_at => ReportAt,
    /// Repository ID in Allstacks (one of repo ID and repo name is required)
    #[arg(long, value_name = "ID")]
    repo_id => RepoId,
    /// Repository name, e.g. acme/app
    #[arg(long, value_name = "NAME")]
    repo_name => RepoName,
    /// Email or username of who triggered the job
    #[arg(long, value_name = "WHO")]
    triggered_by => TriggeredBy,
    /// Kind of job, e.g. "Production Deploy"
    #[arg(long, value_name = "TYPE")]
    job_type => JobType,
    /// Optional fields as a JSON array in the API's format: [{"key":..,"value":..,"type":..}]
    #[arg(long = "optional-json", visible_alias = "optional", value_name = "JSON")]
    optional => Optional,
    /// Optional fields, one KEY[:TYPE]=VALUE per line (variables and action inputs only; the flag is --field)
    #[arg(skip)]
    fields => Fields,
    /// The git repository to read (a directory in it)
    #[arg(long, value_name = "PATH")]
    repo => Repo,
    /// The commit of the previous deploy, for the change set
    #[arg(long, value_name = "SHA")]
    previous_sha => PreviousSha,
    /// The previous deploy is the nearest tag matching this pattern (as git tag -l) below the deployed commit
    #[arg(long, value_name = "PATTERN")]
    previous_tag => PreviousTag,
    /// Where the job deployed to, e.g. production; sent as the optional field environment
    #[arg(long, value_name = "NAME")]
    environment => Environment,
    /// The most commits a change set walks; past it the lead time is left out
    #[arg(long, value_name = "N")]
    change_set_limit => ChangeSetLimit,
    /// This job's matrix leg as JSON, which gives each leg its own job id (the action fills it with toJSON(matrix))
    #[arg(long, value_name = "JSON")]
    matrix => Matrix,
    }
    connection {
    /// Full endpoint URL, https://HOST[:PORT]/webhook/company/ID/cicd_job
    #[arg(long, value_name = "URL")]
    url => Url,
    /// Allstacks server host, to build the endpoint when --url is not given
    #[arg(long, value_name = "HOST")]
    server => Server,
    /// Server port, to build the endpoint
    #[arg(long, value_name = "PORT")]
    port => Port,
    /// Company ID, to build the endpoint
    #[arg(long, value_name = "ID")]
    company_id => CompanyId,
    /// API token. Prefer CUSTOMCD_TOKEN or --token-file: other processes can read command lines
    #[arg(long, value_name = "TOKEN")]
    token => Token,
    /// Read the API token from this file (surrounding whitespace is trimmed)
    #[arg(long, value_name = "PATH")]
    token_file => TokenFile,
    /// GitHub token to read the previous deploy from GitHub's deployments (the action passes github.token; the workflow needs permissions: deployments: read)
    #[arg(long, value_name = "TOKEN")]
    github_token => GithubToken,
    /// GitLab token for the deployments API where job tokens may not read it (sent as PRIVATE-TOKEN)
    #[arg(long, value_name = "TOKEN")]
    gitlab_token => GitlabToken,
    /// Validate and print the JSON body and where each field came from; send nothing
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    dry_run => DryRun,
    /// Allow plain http:// to hosts other than loopback (the token would travel unencrypted)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    allow_http => AllowHttp,
    /// Add CI context (ci_system, run_url, branch, ci_result) as optional fields
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    ci_fields => CiFields,
    /// Which delivery problems fail: refusal (401/403, 4xx fail; an outage only warns, the job kept), true (both fail) or false (neither)
    #[arg(long, value_name = "WHICH", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    fail_on_error => FailOnError,
    /// Give up retrying after this many seconds in all
    #[arg(long, value_name = "SECONDS")]
    deadline => Deadline,
    /// Where undelivered jobs are saved for `customcd send`
    #[arg(long, value_name = "DIR")]
    spool_dir => SpoolDir,
    /// Also save the payload to the spool directory when it was delivered (audit, relays)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    spool_always => SpoolAlways,
    /// Extra trusted root certificates (PEM), e.g. a private CA
    #[arg(long, value_name = "PATH")]
    ca_file => CaFile,
    /// Trust the operating system's root certificates instead of the bundled Mozilla roots
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    platform_roots => PlatformRoots,
    /// Proxy URL for the request
    #[arg(long, value_name = "URL")]
    proxy => Proxy,
    /// Accept an endpoint URL whose path is not /webhook/company/ID/cicd_job (a relay that rewrites paths)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    any_endpoint_path => AnyEndpointPath,
    }
    bulk {
    /// Jobs in flight at once (1 to 64), each on its own keep-alive connection
    #[arg(long, value_name = "N")]
    concurrency => Concurrency,
    }
}

/// Values of one source, by key. Sources are stacked in precedence order and the first layer that
/// has a key gives its value.
#[derive(Default, Clone)]
pub struct Layer {
    entries: BTreeMap<Key, Sourced<String>>,
}

impl Layer {
    pub fn set(&mut self, key: Key, value: Sourced<String>) {
        self.entries.insert(key, value);
    }

    pub fn get(&self, key: Key) -> Option<&Sourced<String>> {
        self.entries.get(&key)
    }
}

/// The stack of layers, highest precedence first.
#[derive(Default, Clone)]
pub struct Stack {
    layers: Vec<Layer>,
}

impl Stack {
    /// Adds a layer below all layers pushed so far.
    pub fn push(&mut self, layer: Layer) {
        self.layers.push(layer);
    }

    /// The winning value for `key`: from the highest layer that sets it.
    pub fn get(&self, key: Key) -> Option<&Sourced<String>> {
        self.layers.iter().find_map(|l| l.get(key))
    }

    /// Of several alternative keys, the one set by the highest layer (the first listed wins a tie).
    pub(crate) fn first_of(&self, keys: &[Key]) -> Option<(Key, &Sourced<String>)> {
        self.layers.iter().find_map(|l| keys.iter().find_map(|k| l.get(*k).map(|v| (*k, v))))
    }

    /// The layers, highest precedence first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
}

/// How a payload field is written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonType {
    String,
    Integer,
}

/// Whether the API needs a payload field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Required,
    /// At least one field of the group must be set (`repo_id` / `repo_name`).
    OneOfRepo,
    Optional,
}

/// What resolving a job does when a payload field is given by no source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// It is reported as required, and the fix asks the user to pass or set it to `what`. With
    /// `from_git`, git would have supplied it, so why git could not is said too.
    Ask { what: &'static str, from_git: bool },
    /// It is made from other fields (`job_id` from the commit and start, `job_duration` from the
    /// clock).
    Derived,
    /// Nothing is said for the field alone: it is optional, or its group (`repo_id` / `repo_name`)
    /// is reported as one.
    Quiet,
}

/// One field of the Custom CD payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PayloadField {
    pub key: Key,
    pub json: JsonType,
    pub need: Need,
    /// What a job without it gets: a problem asking for it, a derived value, or nothing.
    pub missing: Missing,
}

impl PayloadField {
    /// The name in the JSON body, which is also the CSV column and the action input.
    pub(crate) fn name(&self) -> &'static str {
        self.key.name()
    }
}

/// The largest integer sent for `service_id` and `job_duration`: the API's integers are taken to be
/// 32-bit signed (as database integer columns are), so a bigger value could not be stored.
pub(crate) const MAX_API_INTEGER: u64 = 2_147_483_647;

/// What a setting is when nobody gives it, as `--help` and docs/settings.md say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// No value: the setting is left out (or, for a payload field, the server's default applies).
    Unset,
    /// This exact value, which the code uses (a test holds the resolved settings to it).
    Value(&'static str),
    /// A value worked out from elsewhere, described in words.
    Derived(&'static str),
    /// The API needs it: from a flag, a variable, an input or the CI system.
    Required(&'static str),
}

/// The headings of `--help`, one per concern (clap shows them in the order the options are
/// declared). Where a setting appears and what it is when not given comes from [`help_of`]. One entry per setting: `--help` is built from this table and the doc
/// comments of the settings above, and docs/settings.md is checked against both.
pub const HEADINGS: &[&str] =
    &["The job", "Change set", "CI context", "Endpoint and token", "Delivery", "TLS and proxy"];

/// The heading and the fallback of a setting (see [`HEADINGS`]).
pub fn help_of(key: Key) -> (&'static str, Fallback) {
    use Fallback::{Derived, Required, Unset, Value};
    let [job, change_set, ci, endpoint, delivery, tls] =
        [HEADINGS[0], HEADINGS[1], HEADINGS[2], HEADINGS[3], HEADINGS[4], HEADINGS[5]];
    match key {
        Key::JobId => (job, Derived("from the CI system, else the commit's first 12 characters and the start")),
        Key::CommitSha => (job, Derived("from the CI system, else HEAD of the repository")),
        Key::ServiceId => (job, Required("from a flag, CUSTOMCD_SERVICE_ID or the action input")),
        Key::JobStartTime => (job, Required("unless the CI system or `customcd start` gives it")),
        Key::JobDuration => (job, Derived("now minus the start time")),
        Key::Status => (job, Required("unless the CI system gives it")),
        Key::RepoId => (job, Unset),
        Key::RepoName => (job, Derived("from the CI system, else the origin remote")),
        Key::TriggeredBy => (job, Derived("from the CI system, else left out: the server uses Custom CD Agent")),
        Key::JobType => (job, Derived("left out: the server uses CUSTOM_CD_JOB")),
        Key::Optional | Key::Fields => (job, Unset),
        Key::Environment => (job, Derived("from the CI system")),
        Key::ReportAt => (job, Value("now")),
        Key::Repo => (change_set, Derived("found upward from the working directory")),
        Key::PreviousSha => (change_set, Derived("--previous-tag, else the CI system's previous deploy")),
        Key::PreviousTag => (change_set, Unset),
        Key::ChangeSetLimit => (change_set, Value("10000")),
        Key::GithubToken => (change_set, Unset),
        Key::GitlabToken => (change_set, Derived("CI_JOB_TOKEN, sent as JOB-TOKEN")),
        Key::JobStatus | Key::Matrix => (ci, Unset),
        Key::CiFields => (ci, Value("true")),
        Key::Url => (endpoint, Derived("built from --server, --port and --company-id")),
        Key::Server | Key::CompanyId | Key::TokenFile => (endpoint, Unset),
        Key::Port => (endpoint, Value("443")),
        Key::Token => (endpoint, Required("unless a dry run; CUSTOMCD_TOKEN or --token-file")),
        Key::DryRun | Key::SpoolAlways => (delivery, Value("false")),
        Key::FailOnError => (delivery, Value("refusal")),
        Key::Deadline => (delivery, Value("60")),
        Key::SpoolDir => (delivery, Derived("per CI system, outside the checkout (docs/delivery.md)")),
        Key::Concurrency => (delivery, Value("4")),
        Key::AllowHttp | Key::PlatformRoots | Key::AnyEndpointPath => (tls, Value("false")),
        Key::CaFile => (tls, Derived("SSL_CERT_FILE if set, else none: the bundled Mozilla roots")),
        Key::Proxy => (tls, Derived("HTTPS_PROXY, HTTP_PROXY or ALL_PROXY, honouring NO_PROXY")),
    }
}

/// The payload's scalar fields, in the order the body writes them; `optional` is the list of
/// optional fields (see `optional`). This is the one list of payload fields: stored payloads and
/// CSV columns are read by it, provenance is printed by it, and tests hold `Payload`, action.yml,
/// the GitLab template and README to it.
pub(crate) const PAYLOAD_FIELDS: &[PayloadField] = &[
    PayloadField { key: Key::JobId, json: JsonType::String, need: Need::Required, missing: Missing::Derived },
    PayloadField {
        key: Key::CommitSha,
        json: JsonType::String,
        need: Need::Required,
        missing: Missing::Ask {
            what: "the full SHA, e.g. \"$(git rev-parse HEAD)\", or run inside the git checkout",
            from_git: true,
        },
    },
    PayloadField {
        key: Key::ServiceId,
        json: JsonType::Integer,
        need: Need::Required,
        missing: Missing::Ask { what: "the ID of your Custom CD service in Allstacks", from_git: false },
    },
    PayloadField {
        key: Key::JobStartTime,
        json: JsonType::Integer,
        need: Need::Required,
        missing: Missing::Ask {
            what: "the job's start, recorded when it begins (outside CI: eval \"$(customcd start)\" in the shell that reports; or $(date +%s) taken at the start), as epoch seconds or RFC 3339 such as 2024-01-01T10:00:00Z",
            from_git: false,
        },
    },
    PayloadField { key: Key::JobDuration, json: JsonType::Integer, need: Need::Required, missing: Missing::Derived },
    PayloadField {
        key: Key::Status,
        json: JsonType::String,
        need: Need::Required,
        missing: Missing::Ask { what: "Succeeded, Failed or On Hold (or success, failure, ...)", from_git: false },
    },
    PayloadField { key: Key::RepoId, json: JsonType::String, need: Need::OneOfRepo, missing: Missing::Quiet },
    PayloadField { key: Key::RepoName, json: JsonType::String, need: Need::OneOfRepo, missing: Missing::Quiet },
    PayloadField { key: Key::TriggeredBy, json: JsonType::String, need: Need::Optional, missing: Missing::Quiet },
    PayloadField { key: Key::JobType, json: JsonType::String, need: Need::Optional, missing: Missing::Quiet },
];

/// The job settings `backfill` takes, in the order its help lists them: what applies to every
/// tag's job. The others (a commit, a start, a status) come from each tag, and one left in the
/// environment must not stamp all of history.
pub(crate) const BACKFILL_KEYS: &[Key] = &[Key::ServiceId, Key::JobType, Key::RepoName, Key::RepoId, Key::Repo];

/// The body's list of optional fields, beside [`PAYLOAD_FIELDS`].
pub(crate) const OPTIONAL_FIELD: &str = "optional";

/// Variable spellings accepted besides `CUSTOMCD_<NAME>`. The flags are `--field` and
/// `--optional-json`, so the naming rule promises `CUSTOMCD_FIELD` and `CUSTOMCD_OPTIONAL_JSON`;
/// `CUSTOMCD_FIELDS` and `CUSTOMCD_OPTIONAL` shipped first and stay the canonical names.
pub(crate) const VAR_ALIASES: &[(&str, Key)] =
    &[("CUSTOMCD_FIELD", Key::Fields), ("CUSTOMCD_OPTIONAL_JSON", Key::Optional)];

/// `CUSTOMCD_*` variables that are not settings of the binary but of the packaging around it (the
/// GitLab component and the Jenkins step set them in the job's environment, the action its own
/// state), so they are not misspellings.
const PACKAGING_VARS: &[&str] =
    &["CUSTOMCD_VERSION", "CUSTOMCD_SHA256", "CUSTOMCD_RELEASE_URL", REPORT_PENDING_VAR, JOB_IDS_VAR];

/// Set through `GITHUB_ENV` by the action's main stage with `report_at: job-end`: the pending
/// records (job id and tag) its post stage verifies (see `cmd::post`). Not a setting.
pub const REPORT_PENDING_VAR: &str = "CUSTOMCD_REPORT_PENDING";
/// Set through `GITHUB_ENV` by each action step that reported or deferred: the job ids taken in
/// this job, so that a later customcd step picks a distinct default id. Not a setting.
pub const JOB_IDS_VAR: &str = "CUSTOMCD_JOB_IDS";
const PACKAGING_PREFIXES: &[&str] = &["CUSTOMCD_INPUT_", "CUSTOMCD_STEP_"];

/// Whether a setting has an action input. The token file does not (the action takes the secret
/// itself), nor does the bulk senders' concurrency (the action reports one job), nor GitLab's
/// token (an action runs on GitHub).
#[cfg(test)]
pub(crate) fn has_input(key: Key) -> bool {
    input_of(key).is_some()
}

/// An input of the GitHub Action (action.yml): every action input is optional (`required: false`).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Input {
    /// The input's default, as action.yml writes it (an expression such as `${{ github.token }}`
    /// is evaluated by the runner for each stage).
    pub default: &'static str,
    /// The input's description in action.yml.
    pub description: &'static str,
}

/// The GitHub Action's input for a setting, or None when the action takes none. action.yml's
/// `inputs:` block is GENERATED from this table (and setup/action.yml from action.yml by
/// ci/setup-action.py): `CUSTOMCD_REGENERATE=1 cargo test --lib action_yml` rewrites it.
#[cfg(test)]
pub(crate) fn input_of(key: Key) -> Option<Input> {
    match key {
        Key::Status => Some(Input { default: "", description: "The job's result (success, failure, cancelled, or Succeeded, Failed, On Hold); wins over job_status. Empty: job_status, which the runner fills with the job's status." }),
        Key::ReportAt => Some(Input { default: "", description: "When to report: now (when this step runs; make it the last step, with `if: always()`) or job-end (put the step first: the action's post stage reports after every other step, with the job's final status). Empty: now." }),
        Key::ServiceId => Some(Input { default: "", description: "The Allstacks service id (an integer) the job belongs to. Or set CUSTOMCD_SERVICE_ID." }),
        Key::Url => Some(Input { default: "", description: "The full webhook URL. Either this or server + company_id (and port). Or set CUSTOMCD_URL." }),
        Key::Server => Some(Input { default: "", description: "The Allstacks server host name, used with company_id when url is empty." }),
        Key::Port => Some(Input { default: "", description: "The server port, used with server when url is empty." }),
        Key::CompanyId => Some(Input { default: "", description: "The Allstacks company id, used with server when url is empty." }),
        Key::Token => Some(Input { default: "", description: "The webhook token (an Allstacks personal access token). Pass a secret, e.g. secrets.CUSTOMCD_TOKEN. It is masked in the log." }),
        Key::GithubToken => Some(Input { default: "${{ github.token }}", description: "Token to read the previous deploy of this environment from GitHub's deployments (the workflow needs permissions: deployments: read). Sent to GITHUB_API_URL only; masked. Empty: no lookup." }),
        Key::JobId => Some(Input { default: "", description: "A unique id for this job. Default: <run id>-<run attempt>-<job>." }),
        Key::CommitSha => Some(Input { default: "", description: "The commit that was built or deployed. Default: the commit the triggering event names (pull request head, workflow_run head, deployment sha, ...), else the checked-out HEAD when it is this repository, else GITHUB_SHA." }),
        Key::JobStartTime => Some(Input { default: "", description: "When the job started, epoch seconds or RFC 3339. Default: recorded by this action's pre step at the start of the job." }),
        Key::JobDuration => Some(Input { default: "", description: "The job's duration in whole seconds. Default: from the start time until now." }),
        Key::RepoId => Some(Input { default: "", description: "The repository id known to Allstacks. Default: none; repo_name (GITHUB_REPOSITORY) identifies the repository." }),
        Key::RepoName => Some(Input { default: "", description: "The repository name. Default: GITHUB_REPOSITORY (owner/name)." }),
        Key::TriggeredBy => Some(Input { default: "", description: "Who started the job. Default: GITHUB_TRIGGERING_ACTOR, else GITHUB_ACTOR." }),
        Key::JobType => Some(Input { default: "", description: "The kind of job, e.g. deploy, build, test." }),
        Key::Optional => Some(Input { default: "", description: "Optional fields as a JSON array, as the API takes them. Prefer `fields`." }),
        Key::Fields => Some(Input { default: "", description: "Optional fields, one KEY[:TYPE]=VALUE per line; TYPE is string (default), integer, float, duration or timestamp. Repeating a key makes a list." }),
        Key::CiFields => Some(Input { default: "", description: "Add CI context (ci_system, run_url, branch) as optional fields: true or false. Empty: true." }),
        Key::DryRun => Some(Input { default: "", description: "Validate and print the payload without sending it: true or false. Empty: false." }),
        Key::FailOnError => Some(Input { default: "", description: "Which delivery problems fail the step. Empty or refusal: a refusal that needs a person (401/403, another 4xx) fails; an outage (network, timeout, 429, 5xx) is a warning annotation, the step passes and the job is kept (output spool_file). true: both fail. false: neither fails. Invalid input always fails." }),
        Key::SpoolDir => Some(Input { default: "", description: "A directory to keep jobs that could not be delivered, for a later `customcd send`. Empty: RUNNER_TEMP/customcd-spool." }),
        Key::SpoolAlways => Some(Input { default: "", description: "Also keep a copy of a delivered payload in the spool directory (audit, relays): true or false. Empty: false." }),
        Key::Repo => Some(Input { default: "", description: "The git repository to read, a directory in the workspace. Empty: the workspace." }),
        Key::Deadline => Some(Input { default: "", description: "Give up retrying after this many seconds in all. Empty: 60." }),
        Key::AllowHttp => Some(Input { default: "", description: "Allow a plain http:// endpoint on a host other than loopback (the token would travel unencrypted): true or false. Empty: false." }),
        Key::AnyEndpointPath => Some(Input { default: "", description: "Accept an endpoint whose path is not /webhook/company/ID/cicd_job, for a relay that rewrites paths: true or false. Empty: false." }),
        Key::Proxy => Some(Input { default: "", description: "Proxy URL for the request. Empty: HTTPS_PROXY, HTTP_PROXY or ALL_PROXY, honouring NO_PROXY." }),
        Key::CaFile => Some(Input { default: "", description: "Extra trusted root certificates (PEM), e.g. a private CA; a path in the workspace. Empty: SSL_CERT_FILE if set." }),
        Key::PlatformRoots => Some(Input { default: "", description: "Trust the runner's root certificates instead of the bundled Mozilla roots: true or false. Empty: false." }),
        Key::Environment => Some(Input { default: "", description: "Where the job deployed to, e.g. production; sent as the optional field environment. Empty: from the deployment event, if any." }),
        Key::PreviousSha => Some(Input { default: "", description: "The previous deploy's commit, for the change set (commit count, lead time). Empty: the push event's before, or previous_tag." }),
        Key::PreviousTag => Some(Input { default: "", description: "A tag pattern (as git tag -l): the nearest matching tag below the deployed commit is the previous deploy. Needs fetch-depth: 0." }),
        Key::ChangeSetLimit => Some(Input { default: "", description: "The most commits the change set walks; past it the lead time is left out. Empty: 10000." }),
        Key::JobStatus => Some(Input { default: "${{ job.status }}", description: "The job's status as the runner sees it when this stage runs; with report_at job-end that is the job's final status. Leave it as it is; status wins over it." }),
        Key::Matrix => Some(Input { default: "${{ toJSON(matrix) }}", description: "This job's matrix leg; its default gives each leg of a matrix job its own job_id (<run>-<attempt>-<job>-<leg values>). Leave it as it is; `null` outside a matrix." }),
        Key::TokenFile | Key::Concurrency | Key::GitlabToken => None,
    }
}

/// A warning for each `CUSTOMCD_*` variable that names no setting, with the closest known name:
/// a misspelled variable is otherwise silently ignored and the user only hears that the setting
/// is missing.
pub(crate) fn unknown_variables<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let known: Vec<String> =
        Key::ALL.iter().map(|k| var_name(*k)).chain(VAR_ALIASES.iter().map(|(n, _)| (*n).to_owned())).collect();
    let mut warnings = Vec::new();
    for name in names {
        let Some(rest) = name.strip_prefix("CUSTOMCD_") else { continue };
        if rest.is_empty()
            || known.iter().any(|k| k == name)
            || PACKAGING_VARS.contains(&name)
            || PACKAGING_PREFIXES.iter().any(|p| name.starts_with(p))
        {
            continue;
        }
        let closest = known
            .iter()
            .map(|k| (strsim::jaro_winkler(k, name), k))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|(score, _)| *score > 0.8)
            .map(|(_, k)| format!("; did you mean {k}?"))
            .unwrap_or_default();
        warnings.push(format!(
            "the variable {name} is not a customcd setting and is ignored{closest} (customcd env lists the settings)"
        ));
    }
    warnings
}

#[cfg(test)]
impl Stack {
    /// A stack of one layer holding `pairs`, each from the source `origin` names: the one test
    /// helper for code that reads settings.
    pub(crate) fn of(pairs: &[(Key, &str)], origin: impl Fn(Key) -> Source) -> Stack {
        let mut layer = Layer::default();
        for (k, v) in pairs {
            layer.set(*k, Sourced::new((*v).to_owned(), origin(*k)));
        }
        let mut stack = Stack::default();
        stack.push(layer);
        stack
    }
}

/// `--service-id` for `service_id`.
pub fn flag_name(key: Key) -> String {
    match key {
        Key::Optional => "--optional-json".to_owned(),
        Key::Fields => "--field".to_owned(),
        _ => format!("--{}", key.name().replace('_', "-")),
    }
}

/// `CUSTOMCD_SERVICE_ID` for `service_id`.
pub(crate) fn var_name(key: Key) -> String {
    format!("CUSTOMCD_{}", key.name().to_ascii_uppercase())
}

/// `INPUT_SERVICE_ID` for `service_id`, as the GitHub runner names action inputs.
pub(crate) fn input_var_name(key: Key) -> String {
    format!("INPUT_{}", key.name().to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(pairs: &[(Key, &str, Source)]) -> Layer {
        let mut l = Layer::default();
        for (k, v, s) in pairs {
            l.set(*k, Sourced::new((*v).to_owned(), s.clone()));
        }
        l
    }

    #[test]
    fn the_highest_layer_that_sets_a_key_wins() {
        let mut stack = Stack::default();
        stack.push(layer(&[(Key::Status, "Failed", Source::Flag("--status".into()))]));
        stack.push(layer(&[
            (Key::Status, "Succeeded", Source::Var("CUSTOMCD_STATUS".into())),
            (Key::JobType, "deploy", Source::Var("CUSTOMCD_JOB_TYPE".into())),
        ]));
        assert_eq!(stack.get(Key::Status).map(|s| s.value.as_str()), Some("Failed"));
        assert_eq!(stack.get(Key::JobType).map(|s| s.value.as_str()), Some("deploy"));
        assert_eq!(stack.get(Key::RepoId), None);
    }

    #[test]
    fn blank_values_count_as_unset() {
        let values = Values {
            job: JobValues {
                status: Some("  ".into()),
                job_type: Some(String::new()),
                repo_id: Some("7".into()),
                ..JobValues::default()
            },
            ..Values::default()
        };
        let l = values.into_layer(|k| Source::Input(k.name().into()));
        assert!(l.get(Key::Status).is_none());
        assert!(l.get(Key::JobType).is_none());
        assert_eq!(l.get(Key::RepoId).map(|s| s.source.to_string()), Some("action input repo_id".into()));
    }

    #[test]
    fn a_field_the_api_requires_is_asked_for_or_derived_and_no_other_is() {
        for field in PAYLOAD_FIELDS {
            let asked = matches!(field.missing, Missing::Ask { .. } | Missing::Derived);
            assert_eq!(asked, field.need == Need::Required, "{}: {:?} / {:?}", field.name(), field.need, field.missing);
        }
    }

    #[test]
    fn names_follow_one_scheme() {
        assert_eq!(flag_name(Key::ServiceId), "--service-id");
        assert_eq!(flag_name(Key::Optional), "--optional-json");
        assert_eq!(var_name(Key::JobStartTime), "CUSTOMCD_JOB_START_TIME");
        assert_eq!(input_var_name(Key::TriggeredBy), "INPUT_TRIGGERED_BY");
    }

    #[test]
    fn envy_reads_prefixed_variables_into_values() {
        let env = vec![
            ("CUSTOMCD_SERVICE_ID".to_owned(), "42".to_owned()),
            ("CUSTOMCD_DRY_RUN".to_owned(), "true".to_owned()),
            ("OTHER".to_owned(), "x".to_owned()),
        ];
        let v: Values = envy::prefixed("CUSTOMCD_").from_iter(env).expect("plain strings deserialize");
        assert_eq!(v.job.service_id.as_deref(), Some("42"));
        assert_eq!(v.connection.dry_run.as_deref(), Some("true"));
        assert_eq!(v.job.status, None);
    }

    /// The repository's own files, next to Cargo.toml.
    fn repo_file(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    fn yaml(name: &str) -> yaml_rust2::Yaml {
        let docs = yaml_rust2::YamlLoader::load_from_str(&repo_file(name)).expect("valid YAML");
        docs.into_iter().next().expect("one document at least")
    }

    fn input_names(doc: &yaml_rust2::Yaml, path: &[&str]) -> Vec<String> {
        let mut node = doc;
        for p in path {
            node = &node[*p];
        }
        node.as_hash().expect("an inputs map").keys().filter_map(|k| k.as_str().map(str::to_owned)).collect()
    }

    #[test]
    fn the_action_has_an_input_for_every_setting_that_makes_sense_in_an_action() {
        let mut have = input_names(&yaml("action.yml"), &["inputs"]);
        let mut want: Vec<String> = Key::ALL.iter().filter(|k| has_input(**k)).map(|k| k.name().to_owned()).collect();
        have.sort();
        want.sort();
        assert_eq!(have, want, "action.yml's inputs and the settings table disagree");
    }

    const INPUTS_BEGIN: &str =
        "# BEGIN GENERATED inputs: from input_of in src/vocab/names.rs; CUSTOMCD_REGENERATE=1 cargo test --lib action_yml\n";
    const INPUTS_END: &str = "# END GENERATED inputs\n";

    /// A YAML double-quoted scalar holding exactly `s`.
    fn yaml_quoted(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// action.yml's `inputs:` block as the table renders it, markers included.
    fn rendered_inputs() -> String {
        let mut out = String::from(INPUTS_BEGIN);
        out.push_str("inputs:\n");
        for key in Key::ALL {
            let Some(input) = input_of(*key) else { continue };
            out.push_str(&format!(
                "  {}:\n    description: {}\n    required: false\n    default: {}\n",
                key.name(),
                yaml_quoted(input.description),
                yaml_quoted(input.default)
            ));
        }
        out.push_str(INPUTS_END);
        out
    }

    #[test]
    fn action_yml_inputs_are_generated_from_the_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml");
        let text = repo_file("action.yml");
        let begin = text.find(INPUTS_BEGIN).expect("action.yml has the BEGIN GENERATED inputs marker line");
        let end = text[begin..].find(INPUTS_END).expect("action.yml has the END GENERATED inputs marker line")
            + begin
            + INPUTS_END.len();
        let want = rendered_inputs();
        if text[begin..end] == want {
            return;
        }
        if std::env::var_os("CUSTOMCD_REGENERATE").is_some_and(|v| v == "1") {
            let updated = format!("{}{}{}", &text[..begin], want, &text[end..]);
            std::fs::write(&path, updated).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            return;
        }
        panic!(
            "action.yml's inputs block differs from the settings table (input_of in src/vocab/names.rs); \
             run `CUSTOMCD_REGENERATE=1 cargo test --lib action_yml`, then `python3 ci/setup-action.py --write`"
        );
    }

    #[test]
    fn the_rendered_inputs_parse_back_to_the_table() {
        let docs = yaml_rust2::YamlLoader::load_from_str(&rendered_inputs()).expect("valid YAML");
        let inputs = &docs[0]["inputs"];
        for key in Key::ALL {
            let node = &inputs[key.name()];
            match input_of(*key) {
                None => assert!(node.is_badvalue(), "{} has no input", key.name()),
                Some(input) => {
                    assert_eq!(node["description"].as_str(), Some(input.description), "{}", key.name());
                    assert_eq!(node["default"].as_str(), Some(input.default), "{}", key.name());
                    assert_eq!(node["required"].as_bool(), Some(false), "{}", key.name());
                }
            }
        }
    }

    #[test]
    fn the_gitlab_component_inputs_are_settings_or_its_own_packaging() {
        for input in input_names(&yaml("templates/customcd.yml"), &["spec", "inputs"]) {
            let is_setting = Key::ALL.iter().any(|k| k.name() == input);
            let packaging = PACKAGING_VARS.contains(&format!("CUSTOMCD_{}", input.to_ascii_uppercase()).as_str());
            // `stage` is GitLab's own job keyword, which the component passes through.
            assert!(
                is_setting || packaging || input == "stage",
                "component input {input} is neither a setting nor packaging"
            );
        }
    }

    /// The rows of docs/settings.md's option tables (those whose header starts with `| setting |`).
    fn readme_rows() -> Vec<Vec<String>> {
        let readme = repo_file("docs/settings.md");
        let options = readme.split("\n## Options").nth(1).expect("docs/settings.md has an Options section");
        let options = options.split("\n## ").next().unwrap_or(options);
        let mut rows = Vec::new();
        let mut in_table = false;
        for line in options.lines() {
            if line.starts_with("| setting |") {
                in_table = true;
                continue;
            }
            if !line.starts_with('|') {
                in_table = false;
                continue;
            }
            if in_table && !line.starts_with("|---") {
                rows.push(line.trim_matches('|').split(" | ").map(|c| c.trim().to_owned()).collect());
            }
        }
        rows
    }

    #[test]
    fn readme_documents_every_setting_once_with_its_flag_variable_and_input() {
        let rows = readme_rows();
        for key in Key::ALL {
            let matching: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == format!("`{}`", key.name())).collect();
            assert_eq!(matching.len(), 1, "docs/settings.md's option tables should have one row for {}", key.name());
            let row = matching[0];
            assert_eq!(row.len(), 5, "row for {}: setting | flag | variable | action input | default", key.name());
            assert!(
                row[1].contains(&format!("`{}", flag_name(*key))),
                "docs/settings.md's flag for {}: {}",
                key.name(),
                row[1]
            );
            assert!(
                row[2].contains(&format!("`{}", var_name(*key))),
                "docs/settings.md's variable for {}: {}",
                key.name(),
                row[2]
            );
            if has_input(*key) {
                assert_eq!(row[3], format!("`{}`", key.name()), "docs/settings.md's action input for {}", key.name());
            } else {
                assert!(row[3].starts_with('—'), "docs/settings.md names an input for {}, which has none", key.name());
            }
        }
        assert_eq!(rows.len(), Key::ALL.len(), "docs/settings.md's option tables have rows for unknown settings");
    }

    #[test]
    fn every_documented_alias_names_a_setting_with_another_spelling() {
        for (alias, key) in VAR_ALIASES {
            assert_ne!(*alias, var_name(*key));
            let rows = readme_rows();
            let row = rows.iter().find(|r| r[0] == format!("`{}`", key.name())).expect("documented");
            assert!(row[2].contains(alias), "docs/settings.md documents the alias {alias}");
        }
    }
}
