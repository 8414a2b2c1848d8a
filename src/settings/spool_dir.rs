//! Where the spool is when no setting names it: chosen here, next to the `spool_dir` setting that
//! overrides it, from the CI system's per-job temporary directory or the user's state directory.
//! The spool itself (writing, claiming, removing payload files) is `delivery::spool`'s.

use std::path::{Path, PathBuf};

use crate::ci::Ci;
use crate::env::Env;
use crate::vocab::source::{Source, Sourced};

/// Where the spool is when no setting names it. Never inside the working directory or the
/// checkout: a merge request could commit `.customcd-spool/evil.json` there and have it sent with
/// the project's token by a bare `customcd send`. So: the CI job's own temporary directory
/// (`RUNNER_TEMP`, `WORKSPACE_TMP`, `AGENT_TEMPDIRECTORY`); else, in CI, a directory private to
/// this user in the system's temporary directory; outside CI, the per-user state directory.
/// A relative `TMPDIR` is not used: it would put the spool in the working directory.
pub(crate) fn default_dir(ci: Option<&Ci>, env: &Env) -> Sourced<PathBuf> {
    if let Some(ci) = ci {
        if let Some(t) = &ci.temp_dir {
            return Sourced::new(
                t.join("customcd-spool"),
                Source::Default(format!("{} temporary directory", ci.system)),
            );
        }
        return private_temp(env, &format!("{} has no per-job temporary directory", ci.system));
    }
    // Windows sets LOCALAPPDATA (the profile's own, owner-only folder) and no XDG variable; a
    // HOME there (Git Bash, MSYS) comes after it.
    let state = env
        .get("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| env.get("LOCALAPPDATA").map(PathBuf::from))
        .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".local").join("state")));
    match state {
        Some(s) => Sourced::new(
            // Component by component, so a Windows path has no `/` in it.
            s.join("customcd").join("spool"),
            Source::Default("XDG_STATE_HOME, LOCALAPPDATA or ~/.local/state".to_owned()),
        ),
        None => private_temp(env, "neither XDG_STATE_HOME, LOCALAPPDATA nor HOME is set"),
    }
}

/// `$TMPDIR/customcd-spool-<user>` (else the system's temporary directory): the name is
/// predictable, so `delivery::spool::ensure_private_dir` refuses it unless this user owns it.
fn private_temp(env: &Env, why: &str) -> Sourced<PathBuf> {
    // A relative TMPDIR would put the spool inside the working directory (the checkout).
    let tmp = crate::fs::system_temp_dir(env.get("TMPDIR").filter(|t| Path::new(t).is_absolute()));
    let user = crate::fs::user_tag();
    Sourced::new(
        tmp.join(format!("customcd-spool-{user}")),
        Source::Default(format!("the system temporary directory, private to {} ({why})", crate::fs::my_label())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_spool_is_never_in_the_working_directory() {
        let env: Env = [("HOME", "/home/u")].into_iter().collect();
        let d = default_dir(None, &env);
        assert_eq!(d.value, PathBuf::from("/home/u/.local/state/customcd/spool"));
        let mut gitlab = Ci::new("GitLab CI");
        gitlab.spool_dir = Some(Sourced::new(
            "/builds/p/.customcd-spool".into(),
            Source::Ci { system: "GitLab CI", detail: "CI_PROJECT_DIR".into() },
        ));
        let env: Env = [("TMPDIR", "/scratch")].into_iter().collect();
        let d = default_dir(Some(&gitlab), &env);
        assert!(d.value.to_string_lossy().starts_with("/scratch/customcd-spool-"), "{}", d.value.display());
        let mut jenkins = Ci::new("Jenkins");
        jenkins.temp_dir = Some("/ws@tmp".into());
        assert_eq!(default_dir(Some(&jenkins), &env).value, PathBuf::from("/ws@tmp/customcd-spool"));
        let none = default_dir(None, &Env::default());
        assert!(none.value.to_string_lossy().starts_with("/tmp/customcd-spool-"), "{}", none.value.display());
        let relative: Env = [("TMPDIR", "tmp")].into_iter().collect();
        let d = default_dir(None, &relative);
        assert!(
            d.value.to_string_lossy().starts_with("/tmp/customcd-spool-"),
            "never the checkout: {}",
            d.value.display()
        );
    }
}
