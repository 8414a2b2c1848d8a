//! The spool: where a job that could not be delivered is kept, as the exact JSON body, until
//! `customcd send` delivers it. Nothing is lost, and the token is never written.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::ci::Ci;
use crate::env::Env;
use crate::settings::source::{Source, Sourced};

/// The spool directory when `spool_dir` is not set: the CI system's default, else a per-user
/// state directory.
pub fn default_dir(ci: Option<&Ci>, env: &Env, cwd: &Path) -> Sourced<PathBuf> {
    if let Some(ci) = ci {
        if let Some(d) = &ci.spool_dir {
            return d.clone().map(PathBuf::from);
        }
        if let Some(t) = &ci.temp_dir {
            return Sourced::new(
                t.join("customcd-spool"),
                Source::Default(format!("{} temporary directory", ci.system)),
            );
        }
        return Sourced::new(cwd.join(".customcd-spool"), Source::Default("the working directory".to_owned()));
    }
    let state = env
        .get("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".local/state")));
    match state {
        Some(s) => {
            Sourced::new(s.join("customcd/spool"), Source::Default("XDG_STATE_HOME or ~/.local/state".to_owned()))
        }
        None => Sourced::new(cwd.join(".customcd-spool"), Source::Default("the working directory".to_owned())),
    }
}

/// Writes `body` as a new file in `dir`, atomically (a temporary file renamed into place, so a
/// reader never sees half a payload). Returns the file's path.
pub fn write(dir: &Path, job_id: &str, body: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating the spool directory {}", dir.display()))?;
    let safe: String = job_id
        .chars()
        .take(80)
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let path = dir.join(format!("{stamp}-{safe}.json"));
    let tmp = dir.join(format!(".{stamp}-{safe}.json.tmp"));
    std::fs::write(&tmp, body).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(path)
}

/// The payload files named by `paths`: files as given, directories as their `*.json` files in
/// name order (oldest first, as names start with the time). Temporary files are skipped.
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading the directory {}", p.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| {
                    f.extension().is_some_and(|e| e == "json")
                        && !f.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_whole_files_and_expand_finds_them_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write(dir.path(), "job/1", "{\"a\":1}").expect("write");
        let b = write(dir.path(), "job 2", "{\"b\":2}").expect("write");
        std::fs::write(dir.path().join(".partial.json.tmp"), "{").expect("write");
        assert_eq!(std::fs::read_to_string(&a).expect("read"), "{\"a\":1}");
        assert!(a.file_name().expect("name").to_string_lossy().ends_with("-job_1.json"));
        assert_eq!(expand(&[dir.path().to_path_buf()]).expect("expand"), vec![a, b]);
    }

    #[test]
    fn the_default_follows_the_setting_then_ci_then_the_user() {
        let env: Env = [("HOME", "/home/u")].into_iter().collect();
        let d = default_dir(None, &env, Path::new("/w"));
        assert_eq!(d.value, PathBuf::from("/home/u/.local/state/customcd/spool"));
        let mut ci = Ci::new("GitLab CI");
        ci.spool_dir = Some(Sourced::new(
            "/builds/p/.customcd-spool".into(),
            Source::Ci { system: "GitLab CI", detail: "CI_PROJECT_DIR".into() },
        ));
        assert_eq!(default_dir(Some(&ci), &env, Path::new("/w")).value, PathBuf::from("/builds/p/.customcd-spool"));
    }
}
