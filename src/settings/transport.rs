//! How requests travel: which root certificates TLS trusts, and which proxy (if any) carries the
//! request. Resolved once from settings and the environment, checked before anything is sent.
//!
//! There is deliberately no way to switch certificate verification off: a private CA is added
//! with `--ca-file`, never waved through.

use std::path::Path;

use ureq::tls::{Certificate, PemItem, RootCerts};

use crate::env::Env;
use crate::error::{quote, Problem};
use crate::git::remote;
use crate::secret;
use crate::vocab::names::{flag_name, Key, Stack};
use crate::vocab::source::{Source, Sourced};

/// Where the operating system keeps its CA bundle, by distribution family.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The resolved transport.
#[derive(Clone)]
pub(crate) struct Transport {
    pub roots: RootCerts,
    /// How the roots were chosen, named in messages about failures that retrying cannot fix.
    pub roots_shown: String,
    pub proxy: Option<ureq::Proxy>,
    /// The proxy URL without credentials, and where it came from.
    pub proxy_shown: Option<String>,
    /// Things worth telling that do not stop the request.
    pub warnings: Vec<String>,
}

/// Resolves roots and proxy for a request to `url`.
pub(crate) fn resolve(stack: &Stack, env: &Env, url: &str, platform: bool, problems: &mut Vec<Problem>) -> Transport {
    let mut warnings = Vec::new();
    // SSL_CERT_FILE is ambient: it may name a file of another machine (act and some runners pass
    // the host's environment into containers), so a missing file there is only worth a warning,
    // while a --ca-file the user named must exist.
    let ca_file = match stack.get(Key::CaFile) {
        Some(v) => Some(v.clone()),
        None => env.get("SSL_CERT_FILE").and_then(|p| {
            if Path::new(p).is_file() {
                Some(Sourced::new(p.to_owned(), Source::Var("SSL_CERT_FILE".to_owned())))
            } else {
                warnings.push(format!("SSL_CERT_FILE names {}, which is not a file here; it is ignored", quote(p)));
                None
            }
        }),
    };
    let (roots, roots_shown) = roots(platform, ca_file.as_ref(), problems);
    let (proxy, proxy_shown) = proxy(stack, env, url, problems);
    Transport { roots, roots_shown, proxy, proxy_shown, warnings }
}

/// Mozilla's roots as bundled in the binary (webpki-root-certs), borrowed, not copied.
///
/// This is the binary's only copy of them: ureq's own default (`RootCerts::WebPki`, from the
/// webpki-roots crate) would be a second one (about 60 KB), so ureq is built without it and the
/// default roots are handed over as certificates like any others. rustls parses them into trust
/// anchors when the first TLS connection is made, not at start-up.
fn bundled() -> impl Iterator<Item = Certificate<'static>> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|c| Certificate::from_der(c.as_ref()))
}

fn roots(platform: bool, ca_file: Option<&Sourced<String>>, problems: &mut Vec<Problem>) -> (RootCerts, String) {
    if !platform && ca_file.is_none() {
        return (RootCerts::from(bundled()), "bundled Mozilla roots".to_owned());
    }
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    let mut shown = Vec::new();
    if platform {
        match SYSTEM_BUNDLES.iter().find(|p| Path::new(p).is_file()) {
            Some(path) => match read_pem(path) {
                Ok(found) if !found.is_empty() => {
                    shown.push(format!("{} system roots from {path}", found.len()));
                    certs.extend(found);
                }
                Ok(_) | Err(_) => problems.push(Problem::new(
                    "platform_roots",
                    format!("the system bundle {path} holds no readable certificates"),
                    "install the ca-certificates package, or use the bundled roots",
                )),
            },
            None => problems.push(Problem::new(
                "platform_roots",
                format!("no system CA bundle was found (looked for {})", SYSTEM_BUNDLES.join(", ")),
                "install the ca-certificates package, or use the bundled roots and --ca-file",
            )),
        }
    } else {
        // A CA file adds to the bundled roots rather than replacing them.
        certs.extend(bundled());
        shown.push("bundled Mozilla roots".to_owned());
    }
    if let Some(file) = ca_file {
        let path = file.value.trim();
        match read_pem(path) {
            Ok(found) if !found.is_empty() => {
                shown.push(format!("{} from {path} ({})", found.len(), file.source));
                certs.extend(found);
            }
            Ok(_) => problems.push(
                Problem::new(
                    "ca_file",
                    "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    "point it at a PEM bundle of your CA",
                )
                .value(path.to_owned())
                .source(file.source.clone()),
            ),
            Err(e) => problems.push(
                Problem::new("ca_file", format!("cannot be read: {e}"), "check the path and its permissions")
                    .value(path.to_owned())
                    .source(file.source.clone()),
            ),
        }
    }
    (RootCerts::from(certs), shown.join(" + "))
}

/// The certificates of a PEM file (other PEM items, such as keys, are skipped).
fn read_pem(path: &str) -> Result<Vec<Certificate<'static>>, String> {
    // A CA bundle is at most a few hundred KiB; never a blocking or endless read.
    let bytes = crate::fs::read_bounded(std::path::Path::new(path), 16 << 20).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(PemItem::Certificate(c)) => out.push(c.to_owned()),
            Ok(_) => {}
            Err(e) => return Err(format!("not valid PEM: {e}")),
        }
    }
    Ok(out)
}

fn proxy(stack: &Stack, env: &Env, url: &str, problems: &mut Vec<Problem>) -> (Option<ureq::Proxy>, Option<String>) {
    let https = url.trim_start().to_ascii_lowercase().starts_with("https:");
    let names: &[&str] = if https {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    let chosen = stack.get(Key::Proxy).cloned().or_else(|| {
        names.iter().find_map(|n| env.get(n).map(|v| Sourced::new(v.trim().to_owned(), Source::Var((*n).to_owned()))))
    });
    let Some(chosen) = chosen else { return (None, None) };
    // Proxy credentials are secrets too: hidden from every message from here on.
    register_proxy_credentials(&chosen.value);
    let host = url.parse::<ureq::http::Uri>().ok().and_then(|u| u.host().map(str::to_owned)).unwrap_or_default();
    if let Some(why) = never_proxied(&host) {
        return (None, Some(why));
    }
    if let Some(rule) = no_proxy_match(env, &host) {
        return (None, Some(format!("none: {host} matches NO_PROXY entry {}", quote(&rule))));
    }
    // ureq is built without SOCKS support; an explicit SOCKS proxy would fail at request time.
    let scheme = chosen.value.split("://").next().unwrap_or("").to_ascii_lowercase();
    if chosen.value.contains("://") && scheme != "http" && scheme != "https" {
        problems.push(
            Problem::new(
                "proxy",
                format!("uses {}, but only http:// and https:// proxies are supported", quote(&scheme)),
                "give an HTTP proxy (CONNECT), e.g. http://proxy.example:3128",
            )
            .value(remote::redact(&chosen.value))
            .source(chosen.source.clone()),
        );
        return (None, None);
    }
    match ureq::Proxy::new(&chosen.value) {
        Ok(p) => (Some(p), Some(format!("{} ({})", remote::redact(&chosen.value), chosen.source))),
        Err(e) => {
            problems.push(
                Problem::new(
                    "proxy",
                    format!("is not a usable proxy URL ({e})"),
                    format!(
                        "give http://HOST:PORT (or socks5://...) in {} or the proxy variable",
                        flag_name(Key::Proxy)
                    ),
                )
                .value(remote::redact(&chosen.value))
                .source(chosen.source.clone()),
            );
            (None, None)
        }
    }
}

/// Why a request to `host` goes direct whatever the proxy settings say, if it does: a loopback
/// destination (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`) is never proxied, as curl and Go
/// decide. Through a proxy, a plain-http request to this machine would hand the bearer token to
/// the proxy in clear text, and a proxy cannot reach this machine's loopback anyway.
fn never_proxied(host: &str) -> Option<String> {
    let h = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
    let loopback = h == "localhost"
        || h.ends_with(".localhost")
        || h.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
            std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
            v4 => v4.is_loopback(),
        });
    loopback.then(|| format!("none: {host} is a loopback address, which is never proxied"))
}

/// Registers the credentials of a proxy URL (`[scheme://]user:password@host`) as secrets: the
/// password as written and percent-decoded (ureq decodes it before use), and `user:password`,
/// whose base64 travels in `Proxy-Authorization`, so that no message can show either.
fn register_proxy_credentials(url: &str) {
    let rest = url.find("://").map_or(url, |i| &url[i + 3..]);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let Some(at) = authority.rfind('@') else { return };
    let Some((user, password)) = authority[..at].split_once(':') else { return };
    if password.is_empty() {
        return;
    }
    let decoded = percent_decode(password);
    secret::register(password);
    secret::register(&decoded);
    secret::register(&format!("{}:{decoded}", percent_decode(user)));
}

/// `%HH` escapes decoded (bytes that are not UTF-8 replaced); anything else kept.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `NO_PROXY` entry that exempts `host`, if any, read as curl reads it (lib/noproxy.c):
/// entries separated by commas or blanks; `*` alone exempts every host; a trailing dot on the
/// host or the entry is ignored, and so is a leading `.` or `*.` on the entry; a name matches
/// itself and its subdomains; an IP address matches an entry that is the same address or a CIDR
/// range holding it (`10.0.0.0/8`, `fd00::/8`), IPv6 written bare or in brackets; a `:port` after
/// a name or a bracketed IPv6 address is ignored, as no port is checked.
pub(crate) fn no_proxy_match(env: &Env, host: &str) -> Option<String> {
    let list = env.get("NO_PROXY").or_else(|| env.get("no_proxy"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
    let ip = host.parse::<std::net::IpAddr>().ok();
    list.split([',', ' ', '\t']).map(str::trim).filter(|e| !e.is_empty()).find_map(|entry| {
        if entry == "*" {
            return Some(entry.to_owned());
        }
        let e = entry.to_ascii_lowercase();
        let e = no_proxy_host(&e);
        let hit = match (ip, cidr(e)) {
            (Some(addr), Some((net, bits))) => in_range(addr, net, bits),
            (Some(_), None) | (None, Some(_)) => false,
            (None, None) => {
                let e = e.trim_start_matches("*.").trim_start_matches('.').trim_end_matches('.');
                !e.is_empty() && (host == e || host.ends_with(&format!(".{e}")))
            }
        };
        hit.then(|| entry.to_owned())
    })
}

/// An entry without its port: `[v6]:port` and `[v6]` give `v6`; `name:port` gives `name`; a bare
/// IPv6 address (more than one `:`) is kept whole.
fn no_proxy_host(entry: &str) -> &str {
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(addr, _)| addr);
    }
    match entry.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => entry,
    }
}

/// An IP address with its prefix length (`10.0.0.0/8`; a bare address is a full-length prefix).
fn cidr(entry: &str) -> Option<(std::net::IpAddr, u32)> {
    let (addr, bits) = match entry.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (entry, None),
    };
    let addr: std::net::IpAddr = addr.trim_end_matches('.').parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((addr, bits))
}

/// Whether `addr` is in `net`/`bits` (an IPv4 address never in an IPv6 range and the reverse,
/// as in curl).
fn in_range(addr: std::net::IpAddr, net: std::net::IpAddr, bits: u32) -> bool {
    use std::net::IpAddr::{V4, V6};
    let (a, n, len) = match (addr, net) {
        (V4(a), V4(n)) => (u128::from(a.to_bits()), u128::from(n.to_bits()), 32),
        (V6(a), V6(n)) => (a.to_bits(), n.to_bits(), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = len - bits;
    (a >> shift) == (n >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::names::Layer;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    fn stack_with(key: Option<(Key, &str)>) -> Stack {
        let mut l = Layer::default();
        if let Some((k, v)) = key {
            l.set(k, Sourced::new(v.to_owned(), Source::Flag(flag_name(k))));
        }
        let mut s = Stack::default();
        s.push(l);
        s
    }

    #[test]
    fn no_proxy_follows_curl() {
        let e = env(&[("NO_PROXY", "localhost, .internal.example,corp.example:8443,10.0.0.1,[::1]")]);
        assert!(no_proxy_match(&e, "localhost").is_some());
        assert!(no_proxy_match(&e, "a.internal.example").is_some());
        assert!(no_proxy_match(&e, "internal.example").is_some());
        assert!(no_proxy_match(&e, "deep.corp.example").is_some());
        assert!(no_proxy_match(&e, "10.0.0.1").is_some());
        assert!(no_proxy_match(&e, "[::1]").is_some());
        assert!(no_proxy_match(&e, "notinternal.example").is_none());
        assert!(no_proxy_match(&e, "10.0.0.10").is_none());
        assert!(no_proxy_match(&env(&[("no_proxy", "*")]), "anything").is_some());
        assert!(no_proxy_match(&env(&[]), "anything").is_none());
    }

    #[test]
    fn no_proxy_reads_trailing_dots_cidr_ranges_and_bracketed_v6_with_ports_as_curl_does() {
        let e = env(&[("NO_PROXY", "corp.example., 10.0.0.0/8 192.168.1.7/32,[fd00::1]:8443,fe80::/10,*.svc,.lan")]);
        for host in [
            "corp.example",
            "corp.example.",
            "a.corp.example.",
            "10.2.3.4",
            "192.168.1.7",
            "[fd00::1]",
            "fd00::1",
            "[fe80::abcd]",
            "x.svc",
            "svc",
            "a.lan",
        ] {
            assert!(no_proxy_match(&e, host).is_some(), "{host} is exempt");
        }
        for host in ["corp.example.com", "11.0.0.1", "192.168.1.8", "[fd00::2]", "[fec0::1]", "notsvc", "lan.example"] {
            assert!(no_proxy_match(&e, host).is_none(), "{host} is not exempt");
        }
        // A name never matches an address range, nor an address a name.
        assert!(no_proxy_match(&env(&[("NO_PROXY", "10.0.0.0/8")]), "10.example").is_none());
        assert!(no_proxy_match(&env(&[("NO_PROXY", "0.0.0.0/0")]), "203.0.113.9").is_some());
        assert!(no_proxy_match(&env(&[("NO_PROXY", "10.0.0.0/33")]), "10.0.0.1").is_none(), "no such prefix");
    }

    #[test]
    fn the_proxy_comes_from_the_flag_else_the_variable_for_the_scheme() {
        let mut p = Vec::new();
        let e = env(&[("HTTPS_PROXY", "http://127.0.0.1:3128"), ("HTTP_PROXY", "http://127.0.0.1:3129")]);
        let t = resolve(&stack_with(None), &e, "https://a.example/x", false, &mut p);
        assert!(
            t.proxy_shown.as_deref().is_some_and(|s| s.contains("3128") && s.contains("HTTPS_PROXY")),
            "{:?}",
            t.proxy_shown
        );
        let t = resolve(&stack_with(None), &e, "http://a.example/x", false, &mut p);
        assert!(t.proxy_shown.as_deref().is_some_and(|s| s.contains("3129")));
        let t =
            resolve(&stack_with(Some((Key::Proxy, "http://127.0.0.1:9999"))), &e, "https://a.example/x", false, &mut p);
        assert!(t.proxy_shown.as_deref().is_some_and(|s| s.contains("9999") && s.contains("--proxy")));
        assert!(p.is_empty());
    }

    #[test]
    fn loopback_destinations_are_never_proxied_whatever_the_setting() {
        let e = env(&[("HTTP_PROXY", "http://proxy.example:3128"), ("HTTPS_PROXY", "http://proxy.example:3128")]);
        let flag = stack_with(Some((Key::Proxy, "http://proxy.example:3129")));
        for url in [
            "http://127.0.0.1:8080/x",
            "http://127.9.9.9/x",
            "http://localhost:1/x",
            "http://LOCALHOST./x",
            "http://api.localhost/x",
            "http://[::1]:9000/x",
            "http://[::ffff:127.0.0.1]/x",
            "https://localhost/x",
        ] {
            for stack in [&stack_with(None), &flag] {
                let mut p = Vec::new();
                let t = resolve(stack, &e, url, false, &mut p);
                assert!(t.proxy.is_none(), "{url} went through a proxy");
                assert!(t.proxy_shown.as_deref().is_some_and(|s| s.contains("loopback")), "{url}: {:?}", t.proxy_shown);
                assert!(p.is_empty(), "{p:?}");
            }
        }
        let mut p = Vec::new();
        for url in ["http://10.0.0.1/x", "http://localhost.example.com/x", "http://128.0.0.1/x"] {
            assert!(resolve(&stack_with(None), &e, url, false, &mut p).proxy.is_some(), "{url} is not loopback");
        }
    }

    #[test]
    fn proxy_credentials_are_registered_as_secrets_and_not_shown() {
        let mut p = Vec::new();
        let e = env(&[("HTTPS_PROXY", "http://me:proxy-pass-777@127.0.0.1:3128")]);
        let t = resolve(&stack_with(None), &e, "https://a.example/x", false, &mut p);
        assert!(!t.proxy_shown.as_deref().unwrap_or("").contains("proxy-pass-777"));
        assert_eq!(secret::redact("x proxy-pass-777 y"), "x *** y");

        // Percent-encoded in the URL, and as it travels (base64 of `user:password`).
        let e = env(&[("HTTPS_PROXY", "me:p%40ss-888x@127.0.0.1:3128")]);
        resolve(&stack_with(None), &e, "https://a.example/x", false, &mut p);
        assert_eq!(secret::redact("x p@ss-888x y"), "x *** y");
        assert_eq!(secret::redact("x p%40ss-888x y"), "x *** y");
        // base64("me:p@ss-888x") is bWU6cEBzcy04ODh4: every whole 3-byte group is hidden.
        assert_eq!(secret::redact("Basic bWU6cEBzcy04ODh4"), "Basic ***");
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn a_ca_file_without_certificates_is_a_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").expect("write");
        let mut p = Vec::new();
        let s = stack_with(Some((Key::CaFile, path.to_str().expect("utf-8"))));
        resolve(&s, &env(&[]), "https://a.example/x", false, &mut p);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].field, "ca_file");
        let mut p = Vec::new();
        let s = stack_with(Some((Key::CaFile, "/nonexistent/ca.pem")));
        resolve(&s, &env(&[]), "https://a.example/x", false, &mut p);
        assert!(p[0].rule.contains("cannot be read"));
    }

    #[test]
    fn ssl_cert_file_is_honoured_when_no_ca_file_is_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bundle.pem");
        std::fs::write(&path, "no certificates here").expect("write");
        let mut p = Vec::new();
        resolve(
            &stack_with(None),
            &env(&[("SSL_CERT_FILE", path.to_str().expect("utf-8"))]),
            "https://a.example/x",
            false,
            &mut p,
        );
        assert_eq!(p.len(), 1, "the file is read, and its lack of certificates reported");
        assert_eq!(p[0].source, Some(Source::Var("SSL_CERT_FILE".into())));
    }

    #[test]
    fn a_missing_ssl_cert_file_is_only_a_warning() {
        let mut p = Vec::new();
        let t = resolve(
            &stack_with(None),
            &env(&[("SSL_CERT_FILE", "/nonexistent/bundle.pem")]),
            "https://a.example/x",
            false,
            &mut p,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(t.warnings.len(), 1);
        assert_eq!(t.roots_shown, "bundled Mozilla roots");
    }
}
