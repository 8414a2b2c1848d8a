//! Repository URLs: turning a remote URL into a repository name, and printing URLs without the
//! credentials that CI systems embed in them (`gitlab-ci-token:<token>@`, Jenkins' `GIT_URL`).

/// The repository name in a remote URL: `owner/name`, or `group/sub/name` for nested groups.
///
/// Understands scp-like (`git@host:owner/name.git`), `ssh://`, `git://`, `https://` (with or
/// without `.git`, with or without user-info, which is dropped), Azure DevOps (`_git`, `v3/`), and
/// local paths or `file://` URLs (the last path component). `None` when no name can be found.
pub fn repo_name(url: &str) -> Option<String> {
    // User-info is dropped before parsing: it is not part of the name, and a password with a
    // stray `%` would make the whole URL unparseable.
    let url = strip_userinfo(url.trim());
    let parsed = gix::url::parse(url.as_bytes()).ok()?;
    let path = String::from_utf8_lossy(&parsed.path).into_owned();
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path).trim_end_matches('/');
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parsed.host.is_none() {
        // A local path names a directory, not an owner: keep its last component only.
        return parts.last().map(|s| (*s).to_owned());
    }
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

/// A URL with user-info split around it: (`scheme://`, what follows `user:password@`).
fn split_userinfo(url: &str) -> Option<(&str, &str)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_len].rfind('@')?;
    Some((&url[..start], &rest[at + 1..]))
}

/// The URL without its user-info (`scheme://user:password@host/...` → `scheme://host/...`).
fn strip_userinfo(url: &str) -> String {
    split_userinfo(url).map_or_else(|| url.to_owned(), |(scheme, rest)| format!("{scheme}{rest}"))
}

/// The URL with any user-info (`user:password@`) replaced by `***@`, safe to print.
pub fn redact(url: &str) -> String {
    split_userinfo(url).map_or_else(|| url.to_owned(), |(scheme, rest)| format!("{scheme}***@{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("/srv/git/app.git", "app"),
            ("file:///srv/git/app.git", "app"),
            ("  https://github.com/acme/app.git\n", "acme/app"),
            ("https://u:50%@github.com/acme/app.git", "acme/app"),
            ("https://u:%a0xx@github.com/acme/app.git", "acme/app"),
        ];
        for (url, want) in cases {
            assert_eq!(repo_name(url).as_deref(), Some(want), "{url}");
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
}
