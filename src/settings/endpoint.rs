//! Where and how to send: the endpoint URL (given whole, or built from server, port and company)
//! and the token, both checked before anything is sent.

use std::net::IpAddr;

use crate::env::Env;
use crate::error::{quote, Problem};
use crate::secret::Token;
use crate::settings::transport::{self, Transport};
use crate::vocab::names::{flag_name, var_name, Key, Stack};
use crate::vocab::source::Source;

/// A checked endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub url: String,
    pub source: Source,
    /// Some part of it (the URL, or the server, port or company id it was built from) was a
    /// command-line flag, which a later `customcd send` will not see.
    pub from_flag: bool,
}

/// A checked connection: endpoint and token.
#[derive(Clone)]
pub(crate) struct Connection {
    pub endpoint: Endpoint,
    pub token: Token,
    /// Set when the token came from a command-line flag, which other processes can read.
    pub token_from_flag: bool,
    pub transport: Transport,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// What resolving the connection settings gave.
pub(crate) struct Resolved {
    /// The checked connection, when the command will send and everything it needs holds.
    pub connection: Option<Connection>,
    /// The endpoint that would be used, or why there is none, for the dry run and `env`.
    pub endpoint: Result<Endpoint, String>,
    /// Where the token comes from, when one is set.
    pub token_source: Option<Source>,
    /// Things worth telling that do not stop the request.
    pub warnings: Vec<String>,
}

/// The switches that shape the connection, resolved by `settings`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Switches {
    /// Plain `http://` to hosts other than loopback.
    pub allow_http: bool,
    /// An endpoint path other than `/webhook/company/ID/cicd_job` (relays).
    pub any_path: bool,
    /// The operating system's roots instead of the bundled ones.
    pub platform_roots: bool,
}

/// Resolves the endpoint, token and transport. An endpoint that is given is always checked; a
/// missing endpoint or token is a problem only when `required` (the command is about to send).
/// Plain `http://` is allowed to loopback hosts only, unless `allow_http` says otherwise.
pub(crate) fn resolve(
    stack: &Stack,
    env: &Env,
    switches: Switches,
    required: bool,
    problems: &mut Vec<Problem>,
) -> Resolved {
    let mut missing = Vec::new();
    let endpoint = endpoint(stack, switches, &mut missing, problems);
    let token_source = stack.first_of(&[Key::Token, Key::TokenFile]).map(|(_, v)| v.source.clone());
    let shown = match &endpoint {
        Some(e) => Ok(e.clone()),
        None => Err(missing
            .first()
            .map_or_else(|| "the endpoint setting is invalid (see the problems above)".to_owned(), |p| p.fix.clone())),
    };
    if !required {
        return Resolved { connection: None, endpoint: shown, token_source, warnings: Vec::new() };
    }
    problems.append(&mut missing);
    let token = token(stack, problems);
    let transport =
        endpoint.as_ref().map(|e| transport::resolve(stack, env, &e.url, switches.platform_roots, problems));
    let warnings = transport.as_ref().map(|t| t.warnings.clone()).unwrap_or_default();
    let connection = match (endpoint, token, transport) {
        (Some(endpoint), Some((token, token_from_flag)), Some(transport)) => {
            Some(Connection { endpoint, token, token_from_flag, transport })
        }
        _ => None,
    };
    Resolved { connection, endpoint: shown, token_source, warnings }
}

/// The endpoint from `url`, or built from `server`, `port` and `company_id`. A missing endpoint
/// goes to `missing` (it matters only when sending); a wrong one to `problems`.
fn endpoint(
    stack: &Stack,
    switches: Switches,
    missing: &mut Vec<Problem>,
    problems: &mut Vec<Problem>,
) -> Option<Endpoint> {
    if let Some(url) = stack.get(Key::Url) {
        return check_url(url.value.trim(), "url", &url.source, switches, problems).map(|url| checked(url, stack));
    }
    let server = stack.get(Key::Server);
    let company = stack.get(Key::CompanyId);
    let (Some(server), Some(company)) = (server, company) else {
        let missing_key = if server.is_none() && company.is_none() {
            "url"
        } else if server.is_none() {
            "server"
        } else {
            "company_id"
        };
        let which = missing_key;
        missing.push(Problem::new(
            which,
            "the endpoint is not set",
            format!(
                "set {}=https://HOST/webhook/company/ID/cicd_job, or {} and {} (and {} if not 443); or use --dry-run to only validate",
                var_name(Key::Url),
                flag_name(Key::Server),
                flag_name(Key::CompanyId),
                flag_name(Key::Port)
            ),
        ));
        return None;
    };
    let company_id = company.value.trim();
    if !is_company_id(company_id) {
        problems.push(
            Problem::new(
                "company_id",
                "must be a whole number (it becomes part of the URL path /webhook/company/ID/cicd_job)",
                "use the numeric company ID Allstacks shows in the webhook URL",
            )
            .value(company.value.clone())
            .source(company.source.clone()),
        );
        return None;
    }
    let host = server.value.trim().trim_end_matches('/');
    let base = if host.contains("://") { host.to_owned() } else { format!("https://{host}") };
    let base = match stack.get(Key::Port) {
        Some(port) => match port.value.trim().parse::<u16>() {
            Ok(p) if p > 0 => format!("{base}:{p}"),
            _ => {
                problems.push(
                    Problem::new(
                        "port",
                        "must be a port number from 1 to 65535",
                        format!("fix {} or leave it unset for 443", flag_name(Key::Port)),
                    )
                    .value(port.value.clone())
                    .source(port.source.clone()),
                );
                return None;
            }
        },
        None => base,
    };
    let url = format!("{base}/webhook/company/{company_id}/cicd_job");
    check_url(&url, "server", &server.source, switches, problems).map(|url| checked(url, stack))
}

fn checked(url: String, stack: &Stack) -> Endpoint {
    let from_flag = [Key::Url, Key::Server, Key::Port, Key::CompanyId]
        .iter()
        .any(|k| stack.get(*k).is_some_and(|v| matches!(v.source, Source::Flag(_))));
    Endpoint { url, source: url_source(stack), from_flag }
}

fn url_source(stack: &Stack) -> Source {
    match stack.get(Key::Url) {
        Some(u) => u.source.clone(),
        None => {
            let parts: Vec<String> = [Key::Server, Key::Port, Key::CompanyId]
                .iter()
                .filter_map(|k| stack.get(*k).map(|v| v.source.to_string()))
                .collect();
            Source::Default(format!("built from {}", parts.join(", ")))
        }
    }
}

/// Checks an endpoint URL: http or https, a host, no user-info, and plain http only to loopback
/// unless allowed. Returns the URL to use.
fn check_url(
    url: &str,
    field: &str,
    source: &Source,
    switches: Switches,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let shown = crate::git::remote::redact(url);
    let bad = |rule: String, fix: String| Problem::new(field, rule, fix).value(shown.clone()).source(source.clone());
    let uri: ureq::http::Uri = match url.parse() {
        Ok(u) => u,
        Err(e) => {
            problems.push(bad(
                format!("is not a URL ({e})"),
                "give https://HOST[:PORT]/webhook/company/ID/cicd_job".to_owned(),
            ));
            return None;
        }
    };
    let scheme = uri.scheme_str().unwrap_or("");
    let Some(authority) = uri.authority() else {
        problems.push(bad("has no host".to_owned(), "give https://HOST[:PORT]/webhook/company/ID/cicd_job".to_owned()));
        return None;
    };
    if authority.as_str().contains('@') {
        problems.push(bad(
            "contains user-info (credentials) before the host; they would leak into logs and proxies".to_owned(),
            "remove user:password@ from the URL and give the token through CUSTOMCD_TOKEN or --token-file".to_owned(),
        ));
        return None;
    }
    match scheme {
        "https" => {}
        "http" if switches.allow_http || is_loopback(authority.host()) => {}
        "http" => {
            problems.push(bad(
                format!("uses plain http to {}, which would send the token unencrypted", quote(authority.host())),
                format!("use https, or pass {} if the network path is trusted", flag_name(Key::AllowHttp)),
            ));
            return None;
        }
        other => {
            problems.push(bad(format!("has scheme {}, not https", quote(other)), "use an https:// URL".to_owned()));
            return None;
        }
    }
    if !switches.any_path && !is_webhook_path(uri.path()) {
        problems.push(bad(
            format!(
                "has the path {}, not the Custom CD webhook's /webhook/company/ID/cicd_job (ID a number)",
                quote(uri.path())
            ),
            format!(
                "copy the webhook URL Allstacks shows, e.g. https://HOST/webhook/company/123/cicd_job; for a relay that rewrites paths, pass {}",
                flag_name(Key::AnyEndpointPath)
            ),
        ));
        return None;
    }
    Some(url.to_owned())
}

/// A company id: digits only, as Allstacks numbers companies.
fn is_company_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a URL path is the Custom CD webhook's: `.../webhook/company/<digits>/cicd_job`. A
/// prefix is allowed, for servers mounted below the root.
fn is_webhook_path(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("cicd_job"), Some(id), Some("company"), Some("webhook")) if is_company_id(id)
    )
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The token: from `--token`/`CUSTOMCD_TOKEN`/input, or from a file named by `--token-file`,
/// whichever the higher source gives.
fn token(stack: &Stack, problems: &mut Vec<Problem>) -> Option<(Token, bool)> {
    let chosen = stack.first_of(&[Key::Token, Key::TokenFile]);
    let Some((key, v)) = chosen else {
        problems.push(Problem::new(
            "token",
            "no API token is set",
            format!(
                "set {} (a secret variable in CI) or pass {} PATH",
                var_name(Key::Token),
                flag_name(Key::TokenFile)
            ),
        ));
        return None;
    };
    if key == Key::Token {
        return match Token::new(&v.value) {
            Ok(t) => Some((t.with_origin(v.source.to_string()), matches!(v.source, Source::Flag(_)))),
            Err(refusal) => {
                problems.push(Problem::new("token", refusal.rule(), refusal.fix()).source(v.source.clone()));
                None
            }
        };
    }
    // The file's reading and its messages live with the token (`secret`): they must never echo
    // the content, nor a "path" that is the token itself.
    let path = v.value.trim();
    match crate::secret::read_token_file(path) {
        Ok(t) => Some((t.with_origin(format!("{} (the file {path})", v.source)), false)),
        Err(e) => {
            problems.push(Problem::new("token_file", e.rule(), e.fix()).source(v.source.clone()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(pairs: &[(Key, &str)]) -> Stack {
        Stack::of(pairs, |k| Source::Var(var_name(k)))
    }

    fn conn(pairs: &[(Key, &str)], allow_http: bool) -> Result<Connection, Vec<Problem>> {
        let mut p = Vec::new();
        let switches = Switches { allow_http, ..Switches::default() };
        match resolve(&stack(pairs), &Env::default(), switches, true, &mut p).connection {
            Some(c) if p.is_empty() => Ok(c),
            _ => Err(p),
        }
    }

    #[test]
    fn a_connections_debug_form_names_the_endpoint_and_hides_the_token() {
        let c =
            conn(&[(Key::Url, "https://a.example/webhook/company/7/cicd_job"), (Key::Token, "tok-secret-99")], false)
                .expect("valid");
        let shown = format!("{c:?}");
        assert!(
            shown.starts_with("Connection") && shown.contains("https://a.example/webhook/company/7/cicd_job"),
            "{shown}"
        );
        assert!(shown.contains("Token(***)") && !shown.contains("tok-secret-99"), "{shown}");
    }

    #[test]
    fn a_half_built_endpoint_is_named_by_the_part_that_is_missing() {
        let missing = |pairs: &[(Key, &str)]| -> Vec<String> {
            conn(pairs, false).expect_err("refused").into_iter().map(|p| p.field).collect()
        };
        assert_eq!(missing(&[(Key::CompanyId, "77"), (Key::Token, "tok-1234")]), ["server"]);
        assert_eq!(missing(&[(Key::Server, "a.example"), (Key::Token, "tok-1234")]), ["company_id"]);
        assert_eq!(missing(&[(Key::Token, "tok-1234")]), ["url"]);
    }

    #[test]
    fn port_0_is_refused_and_port_1_is_a_port() {
        let with_port = |port: &str| {
            conn(
                &[(Key::Server, "a.example"), (Key::Port, port), (Key::CompanyId, "77"), (Key::Token, "tok-1234")],
                false,
            )
        };
        let problems = with_port("0").expect_err("port 0 refused");
        assert_eq!(problems.iter().map(|p| p.field.as_str()).collect::<Vec<_>>(), ["port"]);
        assert_eq!(with_port("1").expect("valid").endpoint.url, "https://a.example:1/webhook/company/77/cicd_job");
    }

    #[test]
    fn the_endpoint_is_built_from_server_port_and_company() {
        let c = conn(
            &[
                (Key::Server, "allstacks.example.com"),
                (Key::Port, "8443"),
                (Key::CompanyId, "77"),
                (Key::Token, "tok-1234"),
            ],
            false,
        )
        .expect("valid");
        assert_eq!(c.endpoint.url, "https://allstacks.example.com:8443/webhook/company/77/cicd_job");
        let c = conn(&[(Key::Server, "https://a.example/"), (Key::CompanyId, "77"), (Key::Token, "tok-1234")], false)
            .expect("valid");
        assert_eq!(c.endpoint.url, "https://a.example/webhook/company/77/cicd_job");
    }

    #[test]
    fn plain_http_is_for_loopback_only_unless_allowed() {
        for host in ["127.0.0.1:8080", "localhost", "[::1]:9000", "127.1.2.3"] {
            let url = format!("http://{host}/webhook/company/1/cicd_job");
            assert!(conn(&[(Key::Url, &url), (Key::Token, "tok-1234")], false).is_ok(), "{host}");
        }
        let url = "http://allstacks.example.com/webhook/company/1/cicd_job";
        let p = conn(&[(Key::Url, url), (Key::Token, "tok-1234")], false).expect_err("http to a remote host");
        assert!(p[0].rule.contains("unencrypted"), "{}", p[0]);
        assert!(p[0].fix.contains("--allow-http"));
        assert!(conn(&[(Key::Url, url), (Key::Token, "tok-1234")], true).is_ok());
    }

    #[test]
    fn credentials_in_the_endpoint_are_refused_without_being_shown() {
        let p = conn(&[(Key::Url, "https://me:hunter22@a.example/x"), (Key::Token, "tok-1234")], false)
            .expect_err("user-info");
        assert!(p[0].rule.contains("user-info"));
        assert!(!p[0].to_string().contains("hunter22"), "{}", p[0]);
    }

    #[test]
    fn missing_or_bad_settings_are_named() {
        let p = conn(&[], false).expect_err("nothing set");
        let fields: Vec<_> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["url", "token"]);
        let p = conn(&[(Key::Url, "ftp://a/b"), (Key::Token, "tok-1234")], false).expect_err("ftp");
        assert!(p[0].rule.contains("scheme"));
        let p = conn(
            &[(Key::Server, "a.example"), (Key::CompanyId, "7"), (Key::Port, "99999"), (Key::Token, "tok-1234")],
            false,
        )
        .expect_err("port");
        assert_eq!(p[0].field, "port");
        let p = conn(&[(Key::Server, "a.example"), (Key::CompanyId, "7/../x"), (Key::Token, "tok-1234")], false)
            .expect_err("company");
        assert_eq!(p[0].field, "company_id");
    }

    #[test]
    fn the_token_comes_from_a_file_and_is_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "  file-token-xyz\n").expect("write");
        let p = path.to_string_lossy().into_owned();
        let c = conn(&[(Key::Url, "https://a.example/webhook/company/1/cicd_job"), (Key::TokenFile, &p)], false)
            .expect("valid");
        assert_eq!(c.token.bearer(), "Bearer file-token-xyz");
        std::fs::write(&path, "\n").expect("write");
        let e = conn(&[(Key::Url, "https://a.example/webhook/company/1/cicd_job"), (Key::TokenFile, &p)], false)
            .expect_err("empty file");
        assert!(e[0].rule.contains("empty"));
    }

    #[test]
    fn an_endpoint_must_have_the_webhook_path_and_a_numeric_company() {
        let tok = (Key::Token, "tok-1234");
        let p = conn(&[(Key::Url, "https://a.example/api/hook"), tok], false).expect_err("wrong path");
        assert!(p[0].rule.contains("/webhook/company/ID/cicd_job"), "{}", p[0]);
        assert!(p[0].fix.contains("--any-endpoint-path"), "{}", p[0]);
        let p = conn(&[(Key::Url, "https://a.example/webhook/company/acme/cicd_job"), tok], false)
            .expect_err("company not a number");
        assert!(p[0].rule.contains("path"), "{}", p[0]);
        let p = conn(&[(Key::Server, "a.example"), (Key::CompanyId, "acme"), tok], false).expect_err("company");
        assert_eq!(p[0].field, "company_id");
        assert!(p[0].rule.contains("whole number"), "{}", p[0]);
        assert!(conn(&[(Key::Url, "https://a.example/allstacks/webhook/company/12/cicd_job"), tok], false).is_ok());
        let mut p = Vec::new();
        let relay = Switches { any_path: true, ..Switches::default() };
        let r = resolve(&stack(&[(Key::Url, "https://relay.example/in"), tok]), &Env::default(), relay, true, &mut p);
        assert!(r.connection.is_some() && p.is_empty(), "{p:?}");
    }

    #[test]
    fn a_missing_endpoint_is_a_problem_only_when_sending() {
        let mut p = Vec::new();
        let r = resolve(&stack(&[]), &Env::default(), Switches::default(), false, &mut p);
        assert!(p.is_empty(), "{p:?}");
        assert!(r.endpoint.expect_err("not set").contains("CUSTOMCD_URL"));
        assert!(r.token_source.is_none());
        let r = resolve(&stack(&[(Key::Url, "ftp://a/b")]), &Env::default(), Switches::default(), false, &mut p);
        assert_eq!(p.len(), 1, "a given endpoint is checked even in a dry run");
        assert!(r.endpoint.is_err());
    }
}
