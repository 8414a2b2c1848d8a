//! The process environment as a plain map, read once at start-up and passed down, so that no
//! code deep inside reads `std::env` and tests never mutate the process environment.

use std::collections::BTreeMap;

/// Environment variables by name. Values that are not UTF-8 are decoded lossily, and their names
/// remembered, so that a setting read from one is refused rather than sent with U+FFFD in it.
#[derive(Debug, Default, Clone)]
pub struct Env(BTreeMap<String, String>, Vec<String>);

impl Env {
    /// The environment of this process.
    pub fn from_process() -> Env {
        let mut invalid = Vec::new();
        let vars = std::env::vars_os()
            .map(|(k, v)| {
                let name = k.to_string_lossy().into_owned();
                let value = match v.into_string() {
                    Ok(v) => v,
                    Err(raw) => {
                        invalid.push(name.clone());
                        raw.to_string_lossy().into_owned()
                    }
                };
                (name, value)
            })
            .collect();
        Env(vars, invalid)
    }

    /// The names of variables whose value is not valid UTF-8.
    pub(crate) fn not_utf8(&self) -> &[String] {
        &self.1
    }

    /// The value of `name`, when set and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    /// The names of every variable.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.keys().map(String::as_str)
    }

    /// Every variable, for envy.
    pub fn pairs(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Env(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect(), Vec::new())
    }
}
