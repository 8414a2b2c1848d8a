//! Secrets: the API token, and the redaction of every registered secret from anything printed.
//!
//! The token is the only secret customcd is given on purpose; credentials found in git URLs are
//! stripped where they are read (see `remote`). Registered secrets are replaced by `***` in every
//! line that `output` prints, so that an error from a library that echoes a header or URL cannot
//! leak them either.

use std::fmt;
use std::sync::{Mutex, OnceLock};

fn registry() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers `secret` so that [`redact`] hides it from then on. Very short values are not
/// registered: hiding every "a" in the output would make it unreadable and protect nothing.
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    if let Ok(mut list) = registry().lock() {
        if !list.iter().any(|s| s == secret) {
            list.push(secret.to_owned());
            // Longest first, so that a secret containing another is hidden whole.
            list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }
}

/// `text` with every registered secret replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    if let Ok(list) = registry().lock() {
        for s in list.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
    }
    out
}

/// The API token. Its `Debug` and `Display` never show it; only [`Token::bearer`] does, for the
/// `Authorization` header.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Trims the token and registers it for redaction. `None` when it is blank.
    pub fn new(raw: &str) -> Option<Token> {
        let t = raw.trim();
        if t.is_empty() {
            return None;
        }
        register(t);
        Some(Token(t.to_owned()))
    }

    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// The raw token, for masking it in a CI log before anything else prints.
    pub fn expose_for_masking(&self) -> &str {
        &self.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_formats_itself() {
        let t = Token::new("  s3cr3t-token-value \n").expect("non-blank");
        assert_eq!(format!("{t} {t:?}"), "*** Token(***)");
        assert_eq!(t.bearer(), "Bearer s3cr3t-token-value");
    }

    #[test]
    fn blank_tokens_are_refused() {
        assert!(Token::new(" \n").is_none());
    }

    #[test]
    fn registered_secrets_are_redacted_from_text() {
        let _t = Token::new("redact-me-0123").expect("non-blank");
        assert_eq!(redact("error: Bearer redact-me-0123 refused"), "error: Bearer *** refused");
        assert_eq!(redact("nothing here"), "nothing here");
    }
}
