//! The documentation as a newcomer meets it: README is a first page of at most 300 lines that
//! links every reference page in docs/, and no relative link in README or docs/ points nowhere.

use std::path::{Path, PathBuf};

use crate::support::{Run, Server, TOKEN};

/// The reference pages, one per concern; README links each of them.
const PAGES: &[&str] = &[
    "docs/settings.md",
    "docs/ci-systems.md",
    "docs/change-set.md",
    "docs/delivery.md",
    "docs/history.md",
    "docs/releases.md",
    "docs/platforms.md",
    "docs/troubleshooting.md",
    "docs/development.md",
    "docs/github-action.md",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Relative link targets of a Markdown text: `](target)` not starting with a scheme or `#`.
fn relative_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = &rest[..end];
            if !target.contains("://") && !target.starts_with('#') && !target.starts_with("mailto:") {
                out.push(target.to_owned());
            }
            rest = &rest[end..];
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, punctuation other than `-`/`_` dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.push(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn the_readme_is_a_first_page_of_at_most_300_lines() {
    let lines = read("README.md").lines().count();
    assert!(lines <= 300, "README.md has {lines} lines; the reference belongs in docs/ (at most 300)");
}

#[test]
fn the_readme_links_every_reference_page_and_each_page_exists() {
    let readme = read("README.md");
    for page in PAGES {
        assert!(root().join(page).is_file(), "{page} is missing");
        assert!(readme.contains(&format!("]({page}")), "README.md does not link {page}");
        assert!(read(page).starts_with("# "), "{page} starts with its title");
    }
}

#[test]
fn every_relative_link_in_the_docs_leads_to_a_file_and_heading_that_exist() {
    let mut files = vec!["README.md".to_owned()];
    files.extend(PAGES.iter().map(|p| (*p).to_owned()));
    for file in &files {
        let dir = Path::new(file).parent().unwrap_or(Path::new(""));
        for link in relative_links(&read(file)) {
            let (path, fragment) = link.split_once('#').map_or((link.as_str(), None), |(p, f)| (p, Some(f)));
            let target = if path.is_empty() { PathBuf::from(file) } else { dir.join(path) };
            let full = root().join(&target);
            assert!(full.exists(), "{file}: the link ({link}) leads to {}, which does not exist", target.display());
            if let Some(fragment) = fragment {
                let text = read(&target.to_string_lossy());
                assert!(
                    anchors(&text).iter().any(|a| a == fragment),
                    "{file}: the link ({link}) names a heading {} does not have",
                    target.display()
                );
            }
        }
    }
}

/// The fenced block of `lang` that follows the first line containing `marker` in `text`.
fn block_after(text: &str, marker: &str, lang: &str) -> String {
    let rest = &text[text.find(marker).unwrap_or_else(|| panic!("README has {marker:?}"))..];
    let open = format!("```{lang}\n");
    let start = rest.find(&open).unwrap_or_else(|| panic!("a ```{lang} block after {marker:?}")) + open.len();
    let end = rest[start..].find("\n```").expect("the block ends");
    rest[start..start + end].to_owned()
}

/// A repository whose one commit has a fixed author, committer and date, so its id is the one
/// README shows, with the `origin` README's sample names.
fn sample_repo() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("app");
    std::fs::create_dir(&dir).expect("mkdir");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(&dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Dev")
            .env("GIT_AUTHOR_EMAIL", "dev@acme.com")
            .env("GIT_COMMITTER_NAME", "Dev")
            .env("GIT_COMMITTER_EMAIL", "dev@acme.com")
            .env("GIT_AUTHOR_DATE", "2026-12-03T09:58:00Z")
            .env("GIT_COMMITTER_DATE", "2026-12-03T09:58:00Z")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q"]);
    git(&["remote", "add", "origin", "https://github.com/acme/app.git"]);
    git(&["commit", "-q", "--allow-empty", "-m", "first"]);
    (tmp, dir)
}

#[test]
fn the_readme_sample_output_is_exactly_what_the_binary_prints() {
    let readme = read("README.md");
    let sample = block_after(&readme, "What it prints", "text");
    let (_tmp, dir) = sample_repo();
    let rx = Server::ok();
    let port = rx.url().split(':').nth(2).and_then(|p| p.split('/').next()).expect("a port").to_owned();
    let url = format!("http://127.0.0.1:{port}/webhook/company/123/cicd_job");
    let mut printed = String::new();
    let mut commands = 0;
    for line in sample.lines() {
        let Some(command) = line.strip_prefix("$ customcd ") else { continue };
        commands += 1;
        let args: Vec<&str> = command.split(' ').collect();
        let out = Run::new(&args)
            .dir(&dir)
            .env("CUSTOMCD_URL", &url)
            .env("CUSTOMCD_TOKEN", TOKEN)
            .env("CUSTOMCD_SERVICE_ID", "42")
            .expect_exit(0);
        printed.push_str(line);
        printed.push('\n');
        for text in [&out.stdout, &out.stderr] {
            for l in text.lines() {
                printed.push_str(&l.replace(&*dir.to_string_lossy(), "/home/dev/app").replace(&port, "8080"));
                printed.push('\n');
            }
        }
    }
    assert_eq!(commands, 2, "the sample shows a dry run and a report");
    assert_eq!(printed.trim_end(), sample.trim_end(), "README's sample output differs from the binary's");
    assert_eq!(rx.requests().len(), 1, "the dry run sent nothing, the report one job");
}

/// The "Run it" recipe as a newcomer pastes it: README's shell block run by bash, with only the
/// endpoint and the token replaced (by a receiver on 127.0.0.1 and the test token).
fn run_the_recipe(deploy_exit: i32) -> (std::process::Output, Vec<serde_json::Value>) {
    let readme = read("README.md");
    let recipe = block_after(&readme, "## Run it", "sh");
    let rx = Server::ok();
    let script: String = recipe
        .lines()
        .map(|l| {
            if l.starts_with("export CUSTOMCD_URL=") {
                format!("export CUSTOMCD_URL={}", rx.url())
            } else if l.starts_with("export CUSTOMCD_TOKEN=") {
                format!("export CUSTOMCD_TOKEN={TOKEN}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let (tmp, dir) = sample_repo();
    let bin_dir = tmp.path().join("bin");
    std::fs::create_dir(&bin_dir).expect("mkdir");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_customcd"), bin_dir.join("customcd")).expect("link");
    std::fs::write(dir.join("deploy.sh"), format!("#!/bin/sh\nexit {deploy_exit}\n")).expect("write");
    let mut perms = std::fs::metadata(dir.join("deploy.sh")).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(dir.join("deploy.sh"), perms).expect("chmod");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", tmp.path())
        .output()
        .expect("bash runs");
    (out, rx.requests().iter().map(|r| r.json()).collect())
}

#[test]
fn the_readme_recipe_reports_one_real_job_with_the_status_of_the_deploy() {
    for (deploy_exit, want) in [(0, "Succeeded"), (1, "Failed")] {
        let (out, jobs) = run_the_recipe(deploy_exit);
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "the recipe ran to its end: {said}");
        assert_eq!(jobs.len(), 1, "one job was sent: {said}");
        let job = &jobs[0];
        assert_eq!(job["status"], want, "{said}");
        assert_eq!(job["service_id"], 42);
        assert_eq!(job["job_type"], "deploy");
        assert_eq!(job["repo_name"], "acme/app");
        assert!(job["optional"].to_string().contains("\"production\""), "{job}");
        let start = job["job_start_time"].as_i64().expect("a start");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
        assert!((now as i64 - start).abs() < 120, "the start is the one `customcd start` recorded: {start}");
        assert!(job["job_duration"].as_i64().is_some_and(|d| (0..120).contains(&d)), "{job}");
    }
}

fn yaml(rel: &str) -> yaml_rust2::Yaml {
    let docs = yaml_rust2::YamlLoader::load_from_str(&read(rel)).expect("valid YAML");
    docs.into_iter().next().expect("one document")
}

/// Every Markdown page a user reads, and the Jenkins step's reference page.
fn user_pages() -> Vec<String> {
    let mut pages =
        vec!["README.md".to_owned(), "templates/README.md".to_owned(), "vars/customcdReport.txt".to_owned()];
    pages.extend(PAGES.iter().map(|p| (*p).to_owned()));
    pages
}

#[test]
fn the_integrations_share_the_clis_defaults_for_job_type_and_fail_on_error() {
    // The CLI sends no job_type unless given (the server's default applies), and its
    // fail_on_error default is `refusal`; an empty input means "the CLI's default".
    let action = yaml("action.yml");
    assert_eq!(action["inputs"]["job_type"]["default"].as_str(), Some(""), "action.yml job_type");
    assert_eq!(action["inputs"]["fail_on_error"]["default"].as_str(), Some(""), "action.yml fail_on_error");
    let component = yaml("templates/customcd.yml");
    assert_eq!(component["spec"]["inputs"]["job_type"]["default"].as_str(), Some(""), "the component's job_type");
    let groovy = read("vars/customcdReport.groovy");
    assert!(
        groovy.contains("if (args.jobType) { cmd += ['--job-type'"),
        "the Jenkins step passes jobType only when given"
    );
    assert!(!groovy.contains("jobType ?:"), "the Jenkins step has no jobType default of its own");
    // What the help says is the same default.
    let help = Run::new(&["report", "--help"]).expect_exit(0).stdout;
    assert!(help.contains("[default: refusal]"), "{help}");
}

#[test]
fn the_docs_name_the_token_one_way_and_write_service_ids_as_every_system_accepts_them() {
    for page in user_pages() {
        let text = read(&page);
        for (n, line) in text.lines().enumerate() {
            let at = format!("{page}:{}", n + 1);
            for (i, _) in line.match_indices("{{ secrets.") {
                let name: String =
                    line[i + 11..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                assert!(
                    name == "CUSTOMCD_TOKEN" || name == "GITHUB_TOKEN",
                    "{at}: the token's secret is CUSTOMCD_TOKEN, not {name}"
                );
            }
            for (i, _) in line.match_indices("credentials('") {
                let name: String = line[i + 13..].chars().take_while(|c| *c != '\'').collect();
                assert_eq!(name, "CUSTOMCD_TOKEN", "{at}: the Jenkins credential is CUSTOMCD_TOKEN");
            }
            // GitLab's typed input refuses a quoted number, GitHub takes both: examples write 42.
            let yaml_line = line.trim_start();
            assert!(
                !yaml_line.starts_with("service_id: \"") && !yaml_line.starts_with("service_id: '"),
                "{at}: {line}"
            );
        }
    }
}

#[test]
fn bash_loads_the_completion_script_and_groff_reads_every_man_page_without_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = Run::new(&["completions", "bash"]).dir(dir.path()).expect_exit(0).stdout;
    let file = dir.path().join("customcd.bash");
    std::fs::write(&file, script).expect("write");
    let out = std::process::Command::new("bash")
        .args(["--norc", "-c", "source \"$1\" && complete -p customcd", "bash"])
        .arg(&file)
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("customcd"));
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let script = Run::new(&["completions", shell]).dir(dir.path()).expect_exit(0).stdout;
        assert!(script.contains("fail-on-error"), "{shell}");
    }
    Run::new(&["completions", "tcsh"]).dir(dir.path()).expect_exit(2);

    let groff = std::process::Command::new("groff").arg("-v").output();
    for page in ["", "report", "send", "backfill", "start", "env", "post", "completions", "man"] {
        let args: Vec<&str> = if page.is_empty() { vec!["man"] } else { vec!["man", page] };
        let roff = Run::new(&args).dir(dir.path()).expect_exit(0).stdout;
        let title = if page.is_empty() { "customcd".to_owned() } else { format!("customcd-{page}") };
        assert!(roff.contains(&format!(".TH {title} 1")), "{roff}");
        if groff.is_ok() {
            let mut child = std::process::Command::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("groff runs");
            std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), roff.as_bytes()).expect("write");
            let out = child.wait_with_output().expect("groff ends");
            assert!(out.status.success() && out.stderr.is_empty(), "{page}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

#[test]
fn backfill_writes_its_jobs_where_its_help_says() {
    let repo = crate::support::Repo::new();
    crate::support::git(&repo.dir, &["tag", "v1.0"]);
    let rx = Server::ok();
    let spool = repo.tmp.path().join("spool");
    let help = Run::new(&["backfill", "--help"]).expect_exit(0).stdout;
    assert!(
        help.contains("[default: customcd-backfill/<folder>-<pattern>.jsonl beside the spool directory]"),
        "{help}"
    );
    Run::new(&["backfill", "--from-git-tags", "v*", "--service-id", "42", "--send"])
        .repo(&repo)
        .server(&rx)
        .arg("--spool-dir")
        .arg(&spool)
        .expect_exit(0);
    // <folder> is the repository's directory name, <pattern> the pattern with `*` made safe.
    let written = spool.with_file_name("customcd-backfill").join("work-v_.jsonl");
    assert!(written.is_file(), "{} was written", written.display());
    assert_eq!(rx.requests().len(), 1);
}

#[test]
fn start_outside_ci_says_how_to_keep_the_start_and_report_without_one_says_the_same() {
    let repo = crate::support::Repo::new();
    let out = Run::new(&["start"]).repo(&repo).expect_exit(0);
    let line = out.stdout.trim();
    let start: i64 = line.strip_prefix("export CUSTOMCD_JOB_START_TIME=").and_then(|n| n.parse().ok()).expect(line);
    assert!(start > 1_600_000_000, "{line}");
    assert_eq!(out.stdout.lines().count(), 1, "only the line to evaluate is on standard output: {out}");
    assert!(!out.stderr.contains("eval"), "under $(...) nothing more is said: {out}");
    // Typed bare at a terminal (script(1) gives it one), it says how to keep the start.
    if std::process::Command::new("script").arg("--version").output().is_ok() {
        let out = std::process::Command::new("script")
            .args(["-qec", &format!("{} start", env!("CARGO_BIN_EXE_customcd")), "/dev/null"])
            .current_dir(&repo.dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &repo.dir)
            .output()
            .expect("script runs");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("eval \"$(customcd start)\"") && said.contains("export CUSTOMCD_JOB_START_TIME="),
            "{said}"
        );
    }

    let out =
        Run::new(&["report", "--dry-run", "--service-id", "42", "--status", "success"]).repo(&repo).expect_exit(2);
    assert!(out.stderr.contains("job_start_time") && out.stderr.contains("eval \"$(customcd start)\""), "{out}");
}
