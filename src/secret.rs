//! Secrets: the API token (checked, read from its file, and told where it came from), and the
//! redaction of every registered secret, in every encoding a server or library is likely to echo
//! it in, from anything printed.
//!
//! The secrets customcd is given on purpose are the API token and the CI platforms' tokens
//! (`github_token`, `gitlab_token`, GitLab's `CI_JOB_TOKEN`, registered by `platform` as they are
//! read, and sent to their own API host only); credentials found in git URLs are stripped where
//! they are read (see `remote`). Registered secrets are replaced by `***` in every
//! line that `output` prints, so that an error from a library that echoes a header or URL, or a
//! server that echoes the request, cannot leak them either.

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// The shortest token accepted, in characters. A shorter one could not be hidden reliably: its
/// characters turn up in ordinary text, and every occurrence would have to be masked. Real API
/// tokens are far longer.
pub(crate) const MIN_TOKEN_CHARS: usize = 8;
/// The shortest secret that is registered for redaction at all (proxy passwords can be short:
/// hiding every "a" would make the output unreadable and protect nothing).
const MIN_SECRET_CHARS: usize = 4;
/// The shortest piece of a secret hidden where a message was cut (`tok_abc…`): shorter pieces
/// are common words and prefixes (`ghp_`), and say little about the rest.
const MIN_CUT_CHARS: usize = 4;
/// The most of a token file that is read: a token is a line, not a file of any size.
pub(crate) const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// Every registered secret in every encoding, longest first.
fn registry() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers `secret`, in each of its [`encodings`], so that [`redact`] hides it from then on.
/// Very short values are not registered (see [`MIN_SECRET_CHARS`]).
pub(crate) fn register(secret: &str) {
    if secret.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    if let Ok(mut list) = registry().lock() {
        for form in encodings(secret) {
            if !list.contains(&form) {
                list.push(form);
            }
        }
        // Longest first, so that a secret containing another is hidden whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// The forms a secret takes when a server or a library echoes it: as it is; JSON-escaped (also
/// with `\/`, as PHP and some Java encoders write it, and with non-ASCII as `\uXXXX`);
/// percent-encoded with upper- and lower-case hex (`+` or `%20` for a space); HTML-escaped; and
/// in standard and URL-safe base64 (the part that does not depend on what follows it).
pub(crate) fn encodings(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.trim_matches('"').to_owned();
    forms.push(json.replace('/', "\\/"));
    forms.push(json.chars().map(|c| if c.is_ascii() { c.to_string() } else { unicode_escape(c) }).collect());
    forms.push(json);
    for upper in [true, false] {
        let pct = percent_encode(secret, upper);
        forms.push(pct.replace("%20", "+"));
        forms.push(pct);
    }
    forms.push(
        secret
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;"),
    );
    // Base64 works on 3-byte groups, so what a token looks like depends on where it starts: after
    // `Bearer `, `user:` or nothing. For each of the three alignments, the groups made of token
    // bytes alone are the same whatever comes before or after; those are hidden.
    let bytes = secret.as_bytes();
    for start in 0..3 {
        let Some(rest) = bytes.get(start..) else { continue };
        let whole = rest.len() / 3 * 3;
        if whole >= 6 {
            let b64 = base64(&rest[..whole]);
            forms.push(b64.replace('+', "-").replace('/', "_"));
            forms.push(b64);
        }
    }
    forms.retain(|f| f.chars().count() >= MIN_SECRET_CHARS);
    forms.sort();
    forms.dedup();
    forms
}

/// `\uXXXX` (a surrogate pair beyond the basic plane), as JSON writes a non-ASCII character.
fn unicode_escape(c: char) -> String {
    let mut units = [0u16; 2];
    c.encode_utf16(&mut units).iter().map(|u| format!("\\u{u:04x}")).collect()
}

/// Every byte but RFC 3986's unreserved ones as `%HH`.
fn percent_encode(text: &str, upper: bool) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// Standard base64, by the crate ureq already carries (given whole 3-byte groups, so unpadded).
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `text` with every registered secret, in every encoding, replaced by `***`; and with the start
/// of one hidden too where text was cut short (`…`, or the end of the text) in the middle of it.
pub(crate) fn redact(text: &str) -> String {
    let Ok(list) = registry().lock() else { return text.to_owned() };
    let mut out = text.to_owned();
    for s in list.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    hide_cut_secrets(&out, &list)
}

/// Hides a secret's first characters where they stand right before a cut (`…`) or at the end of
/// the text: an excerpt that stopped inside a secret.
fn hide_cut_secrets(text: &str, secrets: &[String]) -> String {
    let mut cuts: Vec<usize> = text.match_indices('…').map(|(i, _)| i).collect();
    cuts.push(text.len());
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for cut in cuts {
        let before = &text[from..cut];
        let longest = secrets
            .iter()
            .filter_map(|s| {
                // The longest proper prefix of `s` that `before` ends with.
                s.char_indices().map(|(i, _)| i).skip(MIN_CUT_CHARS).filter(|&i| before.ends_with(&s[..i])).max()
            })
            .max();
        match longest {
            Some(n) => {
                out.push_str(&before[..before.len() - n]);
                out.push_str("***");
            }
            None => out.push_str(before),
        }
        from = cut;
    }
    out
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Nothing but whitespace.
    Blank,
    /// Shorter than [`MIN_TOKEN_CHARS`]; holds its length.
    TooShort(usize),
    /// Holds a control character (a second line, a tab): no HTTP header can carry it.
    Control,
}

impl Refusal {
    /// The rule the token broke, without showing the token.
    pub(crate) fn rule(&self) -> String {
        match self {
            Refusal::Blank => "is blank".to_owned(),
            Refusal::TooShort(n) => format!(
                "is {n} character{} long; a token shorter than {MIN_TOKEN_CHARS} characters is refused because it \
                 cannot be hidden reliably in logs (the value is not shown)",
                if *n == 1 { "" } else { "s" }
            ),
            Refusal::Control => "holds a control character (a second line, a tab), which no HTTP header can carry (the value is not shown)".to_owned(),
        }
    }

    /// What to do about it.
    pub(crate) fn fix(&self) -> String {
        match self {
            Refusal::Blank => "set the token".to_owned(),
            Refusal::TooShort(_) => {
                "give the whole API token Allstacks issued (check that the secret is not truncated or a placeholder)"
                    .to_owned()
            }
            Refusal::Control => {
                "give the token alone, on one line (a token file may end with a newline, nothing more)".to_owned()
            }
        }
    }
}

/// The API token. Its `Debug` and `Display` never show it; only [`Token::bearer`] does, for the
/// `Authorization` header.
#[derive(Clone)]
pub(crate) struct Token {
    value: String,
    /// Where it came from, in words (`variable CUSTOMCD_TOKEN`, `--token-file /run/secrets/x`),
    /// for messages about a refused token.
    origin: Option<String>,
}

impl Token {
    /// Trims the token, checks it and registers it for redaction.
    pub(crate) fn new(raw: &str) -> Result<Token, Refusal> {
        let t = raw.trim();
        if t.is_empty() {
            return Err(Refusal::Blank);
        }
        let n = t.chars().count();
        if n < MIN_TOKEN_CHARS {
            return Err(Refusal::TooShort(n));
        }
        if t.chars().any(char::is_control) {
            // Hidden all the same: the message about it must not print it.
            register(t);
            return Err(Refusal::Control);
        }
        register(t);
        Ok(Token { value: t.to_owned(), origin: None })
    }

    /// Records where the token came from (e.g. `variable CUSTOMCD_TOKEN`).
    #[must_use]
    pub(crate) fn with_origin(mut self, origin: impl Into<String>) -> Token {
        self.origin = Some(origin.into());
        self
    }

    /// Where the token came from, when known.
    pub(crate) fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The `Authorization` header value.
    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.value)
    }

    /// The raw token, for masking it in a CI log before anything else prints.
    pub(crate) fn expose_for_masking(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A `--token-file` value as it may be printed: only when a file is there, or it holds a `/` and
/// its folder exists. A value that is no path at all is most likely the token itself, given to
/// `--token-file` by mistake (`--token-file "$TOKEN"`), and must not be echoed.
pub(crate) fn shown_token_file(path: &str) -> Option<&str> {
    let p = Path::new(path);
    let folder_exists = p.parent().is_some_and(|d| d.as_os_str().is_empty() || d.is_dir());
    (p.is_file() || (path.contains('/') && folder_exists)).then_some(path)
}

/// Why a token file gave no token. Messages never hold the file's content, and name the path
/// only when it is plainly a path (see [`shown_token_file`]).
#[derive(Debug)]
pub(crate) enum TokenFileError {
    /// Nothing exists at the path.
    Missing { path: String },
    /// Something is there but could not be read (permissions, a directory, not UTF-8, too big).
    Unreadable { path: String, why: String },
    /// The file was read, and its content is not a usable token.
    Refused { path: String, refusal: Refusal },
}

impl TokenFileError {
    /// The broken rule, in words.
    pub(crate) fn rule(&self) -> String {
        match self {
            TokenFileError::Missing { path } => match shown_token_file(path) {
                Some(p) => format!("names {p}, which does not exist"),
                None => format!(
                    "names no file that exists (the value, {} characters, is not shown: it does not look like a \
                     path, and may be the token itself)",
                    path.chars().count()
                ),
            },
            TokenFileError::Unreadable { path, why } => format!("cannot read {path}: {why}"),
            TokenFileError::Refused { path, refusal } => match refusal {
                Refusal::Blank => format!("the token file {path} is empty"),
                other => format!("the token in {path} {}", other.rule()),
            },
        }
    }

    /// The fix, in words.
    pub(crate) fn fix(&self) -> String {
        match self {
            TokenFileError::Missing { .. } => "give the path of a file that holds the token (to give the token \
                                               itself, use the CUSTOMCD_TOKEN variable instead)"
                .to_owned(),
            TokenFileError::Unreadable { .. } => {
                "check the path and its permissions; the file must hold just the token".to_owned()
            }
            TokenFileError::Refused { refusal: Refusal::Blank, .. } => "write the token into the file".to_owned(),
            TokenFileError::Refused { refusal, .. } => refusal.fix(),
        }
    }
}

/// Reads the token from the file at `path`: at most [`MAX_TOKEN_FILE_BYTES`], trimmed, checked.
pub(crate) fn read_token_file(path: &str) -> Result<Token, TokenFileError> {
    // Bounded and never blocking: a FIFO or device named as the token file is refused, not read.
    let bytes = match crate::fs::read_bounded(std::path::Path::new(path), MAX_TOKEN_FILE_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TokenFileError::Missing { path: path.to_owned() });
        }
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            return Err(TokenFileError::Unreadable {
                path: path.to_owned(),
                why: format!("it is larger than {} KiB, far more than a token", MAX_TOKEN_FILE_BYTES / 1024),
            });
        }
        Err(e) => return Err(TokenFileError::Unreadable { path: path.to_owned(), why: e.to_string() }),
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| TokenFileError::Unreadable { path: path.to_owned(), why: "it is not UTF-8 text".to_owned() })?;
    Token::new(&text).map_err(|refusal| TokenFileError::Refused { path: path.to_owned(), refusal })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_with_a_second_line_is_refused_as_configuration() {
        assert!(matches!(Token::new("Sup3rS3cr3tValue99\nsecondline\n"), Err(Refusal::Control)));
        assert!(matches!(Token::new("Sup3rS3cr3t\tValue99"), Err(Refusal::Control)));
        assert!(Token::new("Sup3rS3cr3tValue99\n").is_ok(), "a trailing newline is trimmed");
    }

    #[test]
    fn base64_of_the_token_is_hidden_at_every_alignment() {
        let token = "SeCrEtToKeN_12345/+=";
        register(token);
        for prefix in ["", "a", "ab", "Bearer ", ":", "user:"] {
            let encoded = base64(format!("{prefix}{token}xyz").as_bytes());
            let shown = redact(&format!("echo={encoded}"));
            // Only the groups that mix token bytes with others may stay: no two whole groups of
            // token bytes (6 bytes) at any alignment.
            assert!(shown.contains("***"), "{prefix:?}: {shown}");
            for start in 0..3 {
                let window = base64(&token.as_bytes()[start..start + 6]);
                assert!(!shown.contains(&window), "{prefix:?}: {window} is left in {shown}");
            }
        }
    }

    #[test]
    fn a_token_never_formats_itself() {
        let t = Token::new("  s3cr3t-token-value \n").expect("non-blank");
        assert_eq!(format!("{t} {t:?}"), "*** Token(***)");
        assert_eq!(t.bearer(), "Bearer s3cr3t-token-value");
    }

    #[test]
    fn blank_and_short_tokens_are_refused() {
        assert_eq!(Token::new(" \n").err(), Some(Refusal::Blank));
        assert_eq!(Token::new(" abc1234 ").err(), Some(Refusal::TooShort(7)));
        assert!(!Refusal::TooShort(7).rule().contains("abc1234"));
        assert!(Token::new("abcd1234").is_ok());
    }

    #[test]
    fn registered_secrets_are_redacted_from_text() {
        let _t = Token::new("redact-me-0123").expect("non-blank");
        assert_eq!(redact("error: Bearer redact-me-0123 refused"), "error: Bearer *** refused");
        assert_eq!(redact("nothing here"), "nothing here");
    }

    #[test]
    fn every_encoding_of_a_secret_is_redacted() {
        let secret = "tk/Ab+c d&é\"9xyz";
        register(secret);
        let cases = [
            r#"{"detail":"tk\/Ab+c d&é\"9xyz"}"#.to_owned(),
            r#"{"detail":"tk/Ab+c d&é\"9xyz"}"#.to_owned(),
            r#"{"detail":"tk/Ab+c d&\u00e9\"9xyz"}"#.to_owned(),
            "token=tk%2FAb%2Bc%20d%26%C3%A9%229xyz".to_owned(),
            "token=tk%2fAb%2bc%20d%26%c3%a9%229xyz".to_owned(),
            "token=tk%2FAb%2Bc+d%26%C3%A9%229xyz".to_owned(),
            "<p>tk/Ab+c d&amp;é&quot;9xyz</p>".to_owned(),
            format!("basic {}", base64(&secret.as_bytes()[..secret.len() / 3 * 3])),
        ];
        for text in cases {
            let shown = redact(&text);
            assert!(shown.contains("***"), "{text} -> {shown}");
            assert!(!shown.contains("9xyz") && !shown.contains("tk"), "{text} -> {shown}");
        }
    }

    #[test]
    fn a_secret_cut_short_is_hidden_too() {
        register("cut-secret-42abcdef");
        assert_eq!(redact("server said: error for cut-secret-4…"), "server said: error for ***…");
        assert_eq!(redact("x cut-secret-4… (gave up)"), "x ***… (gave up)");
        assert_eq!(redact("ends in cut-sec"), "ends in ***");
        // Fewer than four characters say nothing, and are common.
        assert_eq!(redact("a cut…"), "a cut…");
    }

    #[test]
    fn several_secrets_are_hidden_together_however_they_nest() {
        // The webhook token and a platform token in one message (a proxy's error page quoting
        // both headers); one secret's text inside another's is hidden whole.
        let webhook = Token::new("tok_webhook_AAAA1111").expect("valid");
        let github = Token::new("ghs_platform_BBBB2222").expect("valid");
        register("tok_webhook_AAAA1111-and-more");
        let text = format!(
            "Authorization: {} / Authorization: {} / {}",
            webhook.bearer(),
            github.bearer(),
            "tok_webhook_AAAA1111-and-more"
        );
        assert_eq!(redact(&text), "Authorization: Bearer *** / Authorization: Bearer *** / ***");
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"user:proxypass123"[..15].as_ref()), "dXNlcjpwcm94eXBhc3Mx");
    }

    #[test]
    fn a_token_file_is_read_bounded_and_never_echoed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "  file-token-xyz\n").expect("write");
        let p = path.to_str().expect("utf-8");
        assert_eq!(read_token_file(p).expect("valid").bearer(), "Bearer file-token-xyz");

        std::fs::write(&path, "x".repeat(70_000)).expect("write");
        let e = read_token_file(p).expect_err("too big");
        assert!(e.rule().contains("larger than 64 KiB") && e.rule().contains(p), "{}", e.rule());

        std::fs::write(&path, "short\n").expect("write");
        let e = read_token_file(p).expect_err("too short");
        assert!(e.rule().contains(p) && !e.rule().contains("short\n"), "{}", e.rule());

        let missing = dir.path().join("tokn");
        let e = read_token_file(missing.to_str().expect("utf-8")).expect_err("missing");
        assert!(e.rule().contains("tokn"), "a plain path is named: {}", e.rule());

        let e = read_token_file("tok_notapath_1234567").expect_err("a token given as the path");
        assert!(!e.rule().contains("tok_notapath") && !e.fix().contains("tok_notapath"), "{}", e.rule());
        let e = read_token_file("Ab/Cd+ef==").expect_err("base64 given as the path");
        assert!(!e.rule().contains("Ab/Cd"), "{}", e.rule());
    }
}
