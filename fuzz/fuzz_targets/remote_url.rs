//! Git remote URLs: `remote::repo_name` and `remote::redact`.
//!
//! 1. On the whole input as text: none of them panics, and redacting twice changes nothing.
//! 2. On a URL built from the input, `SCHEME://USER:PASS@HOST[:PORT]/PATH` (input byte 0 picks the
//!    scheme, the rest is split at newlines into user, pass, host, path): the password never
//!    appears in `redact()` or `repo_name()` unless it also appears elsewhere in the URL, and the
//!    credentials never change the repository name.
//!
//! User and password are limited to what RFC 3986 allows unencoded in user-info, plus a raw `@`
//! (careless tokens hold one; the last `@` before the host ends the user-info), and no `/ ? #`,
//! whitespace or controls: a password with a raw `/` before any `@` reads, to git, as a host and
//! a path (tests/properties.rs covers the raw `/` that customcd still hides).
#![no_main]

use customcd::git::remote;
use libfuzzer_sys::fuzz_target;

const SCHEMES: [&str; 6] = ["https", "http", "ssh", "git", "git+ssh", "ftp"];

fn userinfo_char(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !matches!(c, '/' | '?' | '#' | '\\' | '[' | ']')
}

fn host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);

    // 1. Anything at all.
    let _ = remote::repo_name(&text);
    let once = remote::redact(&text);
    assert_eq!(remote::redact(&once), once, "redact is not idempotent on {text:?}");

    // 2. A URL with a password.
    let mut pieces = text.split('\n');
    let user: String = pieces.next().unwrap_or("").chars().filter(|&c| userinfo_char(c) && c != ':').collect();
    let pass: String = pieces.next().unwrap_or("").chars().filter(|&c| userinfo_char(c)).collect();
    let mut host: String = pieces.next().unwrap_or("").chars().filter(|&c| host_char(c)).collect();
    if host.is_empty() {
        host.push('h');
    }
    if selector & 0x40 != 0 {
        host.push_str(&format!(":{}", u16::from(selector) * 37 + 1));
    }
    let path: String =
        pieces.collect::<Vec<_>>().join("/").chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect();
    let scheme = SCHEMES[usize::from(selector & 0x3f) % SCHEMES.len()];
    let url = format!("{scheme}://{user}:{pass}@{host}/{path}");
    let bare = format!("{scheme}://{host}/{path}");

    let redacted = remote::redact(&url);
    let name = remote::repo_name(&url);
    let bare_name = remote::repo_name(&bare);
    // Everything in the URL but the password, with the mask redact puts in its place.
    let others = format!("{scheme}://{user}:***@{host}/{path}");
    if pass.len() >= 4 && !others.contains(&pass) {
        assert!(!redacted.contains(&pass), "redact({url:?}) = {redacted:?} still holds the password {pass:?}");
        if !bare_name.as_deref().unwrap_or("").contains(&pass) {
            assert!(
                !name.as_deref().unwrap_or("").contains(&pass),
                "repo_name({url:?}) = {name:?} holds the password {pass:?}"
            );
        }
    }
    assert!(redacted.contains("***@"), "redact({url:?}) = {redacted:?} kept the user-info");
    if let Some(name) = &name {
        assert_eq!(Some(name), bare_name.as_ref(), "credentials changed the name of {url:?}");
    }
});
