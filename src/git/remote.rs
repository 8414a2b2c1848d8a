//! Repository URLs: turning a remote URL into a repository name, and printing URLs without the
//! credentials that CI systems embed in them (`gitlab-ci-token:<token>@`, Jenkins' `GIT_URL`,
//! `?access_token=`), in every form git accepts and a few it does not but CI variables carry.

/// The repository name in a remote URL: `owner/name`, or `group/sub/name` for nested groups.
///
/// Understands scp-like (`git@host:owner/name.git`), `ssh://`, `git://`, `https://` (with or
/// without `.git`, with or without user-info, which is dropped, as are a query and a fragment),
/// and Azure DevOps (`_git`, `v3/`). `None` when no name can be found, and for a local path or a
/// `file://` URL: a folder on this machine names no repository on any server, and sending its
/// last component as `owner/name` would report the job under a name nobody chose.
pub fn repo_name(url: &str) -> Option<String> {
    // User-info is dropped before parsing: it is not part of the name, and a password with a
    // stray `%` would make the whole URL unparseable. A query or fragment is not part of the
    // name either, and may carry a token (`?access_token=`).
    let url = strip_userinfo(url.trim());
    let url = url.split(['?', '#']).next().unwrap_or("");
    let parsed = gix::url::parse(url.as_bytes()).ok()?;
    if parsed.scheme == gix::url::Scheme::File || parsed.host.is_none() {
        return None;
    }
    let path = String::from_utf8_lossy(&parsed.path).into_owned();
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path).trim_end_matches('/');
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    // Azure DevOps: https://dev.azure.com/org/project/_git/repo and git@ssh.dev.azure.com:v3/org/project/repo.
    parts.retain(|p| *p != "_git");
    if parts.first() == Some(&"v3")
        && parsed.host.as_deref().is_some_and(|h| h.contains("azure.com") || h.contains("visualstudio.com"))
    {
        parts.remove(0);
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

/// A remote URL cut around its user-info: the text before it (`scheme://`, or nothing for the
/// scp-like form), the user-info itself, and what follows its `@`.
struct Split<'a> {
    before: &'a str,
    userinfo: &'a str,
    after: &'a str,
}

/// Finds the user-info of `url`, if any.
///
/// The `@` that ends it is the *last* one that can: a password may hold a raw `@` (git itself
/// would stop at the first and fail), and cutting at the first would print the rest of it. A
/// password may also hold a raw `/` (see below).
fn split_userinfo(url: &str) -> Option<Split<'_>> {
    // Neither a query nor a fragment is part of the user-info.
    let head = &url[..url.find(['?', '#']).unwrap_or(url.len())];
    if let Some(start) = scheme_end(head) {
        let rest = &head[start..];
        let at = rest.rfind('@')?;
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let userinfo = if at < authority_end {
            &rest[..at]
        } else {
            // The last `@` comes after a `/`: either the path holds an `@` (`https://host/a@b`,
            // `https://u:p@host/a@b`), or a password went on past a raw `/` (`user:pa/ss@host`,
            // which git refuses, though a CI variable may still carry it). An `@` before the
            // first `/` ends the user-info, as git reads it. Otherwise `user:` followed by
            // something that is not a port number is a password: hiding too much is the safe side.
            if let Some(a) = authority.rfind('@') {
                &rest[..a]
            } else if !authority.starts_with('[')
                && authority
                    .split_once(':')
                    .is_some_and(|(_, p)| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
            {
                &rest[..at]
            } else {
                return None;
            }
        };
        return Some(Split { before: &url[..start], userinfo, after: &url[start + userinfo.len() + 1..] });
    }
    // scp-like, `[user[:password]@]host:path`: the user-info ends at the last `@` that is
    // followed by `host:` (a host holds no `/`), so an `@` inside the path is not mistaken for it.
    let at = head.char_indices().filter(|&(_, c)| c == '@').map(|(i, _)| i).rev().find(|&i| {
        let after = &head[i + 1..];
        after.find(':').is_some_and(|colon| colon > 0 && !after[..colon].contains('/'))
    })?;
    Some(Split { before: "", userinfo: &url[..at], after: &url[at + 1..] })
}

/// Where `scheme://` ends, when `text` starts with one (`https://`, `git+ssh://`, ...).
fn scheme_end(text: &str) -> Option<usize> {
    let colon = text.find("://")?;
    let scheme = &text[..colon];
    let valid = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(colon + 3)
}

/// `url` without its user-info when it is a `scheme://` URL that has some (a CI system's
/// `BUILD_URL` or `CI_JOB_URL` with `user:token@` in it), else `None`: such a value is sent and
/// printed without it.
pub fn without_credentials(url: &str) -> Option<String> {
    scheme_end(url.trim())?;
    let split = split_userinfo(url.trim())?;
    Some(format!("{}{}", split.before, split.after))
}

/// The URL without its user-info (`scheme://user:password@host/...` → `scheme://host/...`,
/// `user:password@host:path` → `host:path`).
fn strip_userinfo(url: &str) -> String {
    split_userinfo(url).map_or_else(|| url.to_owned(), |s| format!("{}{}", s.before, s.after))
}

/// The URL safe to print: user-info (`user:password@`) replaced by `***@`, and a query and a
/// fragment by `?***` and `#***`. Text that is no URL comes back as it is. A bare scp-like user (`git@host:path`)
/// is kept: it is a login name, not a secret.
pub fn redact(url: &str) -> String {
    let split = split_userinfo(url);
    let base = match &split {
        Some(s) if !s.before.is_empty() || s.userinfo.contains(':') => format!("{}***@{}", s.before, s.after),
        _ => url.to_owned(),
    };
    // Only a URL has a query or a fragment: other text (a job type "Release #5", passed through
    // here by `customcd env` with every setting) is left as it is.
    let is_url = split.is_some() || scheme_end(url).is_some();
    // A query or fragment is hidden whole: its names may be secrets too (`?TOKEN`), and a value
    // holding a raw `&` would otherwise leave part of itself behind as a second parameter.
    match base.find(['?', '#']).filter(|_| is_url) {
        Some(i) => {
            let (keep, hidden) = base.split_at(i);
            let mut out = keep.to_owned();
            if hidden.starts_with('?') {
                out.push_str("?***");
            }
            if hidden.contains('#') {
                out.push_str("#***");
            }
            out
        }
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_off_a_url_and_nothing_else_changes() {
        assert_eq!(
            without_credentials("https://u:p@ss@ci.example/job/1/").as_deref(),
            Some("https://ci.example/job/1/")
        );
        assert_eq!(without_credentials("https://token@ci.example/x").as_deref(), Some("https://ci.example/x"));
        assert_eq!(without_credentials("https://ci.example/a@b"), None, "an @ in the path is no user-info");
        assert_eq!(without_credentials("https://ci.example/job/1/"), None);
        assert_eq!(without_credentials("git@github.com:a/b.git"), None, "only scheme:// URLs");
        assert_eq!(without_credentials("deploy"), None);
    }

    #[test]
    fn every_remote_form_normalises_to_owner_and_name() {
        let cases = [
            ("git@github.com:acme/app.git", "acme/app"),
            ("git@github.com:acme/app", "acme/app"),
            ("ssh://git@github.com/acme/app.git", "acme/app"),
            ("ssh://git@gitlab.example.com:2222/acme/app.git", "acme/app"),
            ("https://github.com/acme/app.git", "acme/app"),
            ("https://github.com/acme/app", "acme/app"),
            ("https://github.com/acme/app/", "acme/app"),
            ("http://gitlab.local:8080/group/sub/app.git", "group/sub/app"),
            ("git://example.org/acme/app.git", "acme/app"),
            ("https://user:secret@github.com/acme/app.git", "acme/app"),
            ("https://gitlab-ci-token:glcbt-64_abc@gitlab.com/group/sub/deep/app.git", "group/sub/deep/app"),
            ("https://x-access-token:ghs_abc@github.com/acme/app", "acme/app"),
            ("https://dev.azure.com/org/project/_git/repo", "org/project/repo"),
            ("git@ssh.dev.azure.com:v3/org/project/repo", "org/project/repo"),
            ("  https://github.com/acme/app.git\n", "acme/app"),
            ("https://u:50%@github.com/acme/app.git", "acme/app"),
            ("https://u:%a0xx@github.com/acme/app.git", "acme/app"),
            ("user:tok-3f9a@github.com:acme/app.git", "acme/app"),
            ("user:to:k@github.com:acme/app.git", "acme/app"),
            ("https://github.com/acme/app.git?access_token=tok-3f9a", "acme/app"),
            ("https://github.com/acme/app.git#tok-3f9a", "acme/app"),
            ("ssh://user:pw-3f9a@gitlab.example.com:22/acme/app", "acme/app"),
            ("https://u%3Atok-3f9a@github.com/acme/app.git", "acme/app"),
            ("https://user:p@ss-3f9a@github.com/acme/app.git", "acme/app"),
            ("https://user:pa/ss-3f9a@github.com/acme/app.git", "acme/app"),
        ];
        for (url, want) in cases {
            assert_eq!(repo_name(url).as_deref(), Some(want), "{url}");
        }
    }

    #[test]
    fn a_local_path_or_file_url_names_no_repository() {
        for url in ["/srv/git/app.git", "file:///srv/git/app.git", "../app", "./app.git", "file://host/srv/app.git"] {
            assert_eq!(repo_name(url), None, "{url}");
        }
    }

    #[test]
    fn urls_without_a_path_have_no_name() {
        assert_eq!(repo_name("https://github.com/"), None);
        assert_eq!(repo_name(""), None);
    }

    #[test]
    fn credentials_are_stripped_for_printing() {
        assert_eq!(redact("https://user:secret@github.com/acme/app.git"), "https://***@github.com/acme/app.git");
        assert_eq!(redact("https://gitlab-ci-token:tok@gitlab.com/a/b.git"), "https://***@gitlab.com/a/b.git");
        assert_eq!(redact("https://github.com/acme/app.git"), "https://github.com/acme/app.git");
        assert_eq!(redact("git@github.com:acme/app.git"), "git@github.com:acme/app.git");
        // An @ in the path is not user-info.
        assert_eq!(redact("https://host/a@b/c"), "https://host/a@b/c");
        assert!(!redact("https://u:p%40ss@h/x").contains("p%40ss"));
    }

    #[test]
    fn credentials_in_unusual_forms_are_hidden_when_printed() {
        let cases = [
            ("user:tok-3f9a@github.com:acme/app.git", "***@github.com:acme/app.git"),
            ("https://github.com/acme/app.git?access_token=tok-3f9a", "https://github.com/acme/app.git?***"),
            ("https://h/a.git?x=1&tok-3f9a&y=2#tok-3f9a", "https://h/a.git?***#***"),
            ("https://h/a.git#tok-3f9a?x", "https://h/a.git#***"),
            ("ssh://user:pw-3f9a@h:22/acme/app", "ssh://***@h:22/acme/app"),
            ("https://u%3Atok-3f9a@h/acme/app.git", "https://***@h/acme/app.git"),
            // The last `@` ends the user-info: a password may hold one.
            ("https://user:p@ss-3f9a@h/acme/app.git", "https://***@h/acme/app.git"),
            ("https://user:pa/ss-3f9a@h/acme/app.git", "https://***@h/acme/app.git"),
            ("https://ghs_tok3f9a@h/acme/app.git", "https://***@h/acme/app.git"),
        ];
        for (url, want) in cases {
            assert_eq!(redact(url), want, "{url}");
            assert!(!redact(url).contains("3f9a"), "{url}");
            assert_eq!(redact(&redact(url)), redact(url), "redacting twice changes nothing: {url}");
        }
        // A port, and an `@` in a path or after a plain scp-like user, are not credentials.
        assert_eq!(redact("https://h:8443/a@b/c"), "https://h:8443/a@b/c");
        assert_eq!(redact("https://u:p@h/a@b/c"), "https://***@h/a@b/c");
        assert_eq!(redact("git@github.com:acme/app@2.git"), "git@github.com:acme/app@2.git");
        assert_eq!(repo_name("git@github.com:acme/app@2.git").as_deref(), Some("acme/app@2"));
        for text in ["Release #5", "deploy?yes", "a:b#c"] {
            assert_eq!(redact(text), text, "not a URL");
        }
    }
}
