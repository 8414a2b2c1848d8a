//! The documentation as a newcomer meets it: README is a first page of at most 300 lines that
//! links every reference page in docs/, and no relative link in README or docs/ points nowhere.

use std::path::{Path, PathBuf};

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
