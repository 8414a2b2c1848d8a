//! The layering of `src/`, checked from the code itself: every `crate::`, `super::` and `self::`
//! path of every source file (in `use` lines and in expressions alike) is resolved to the file it
//! names, and the graph of those imports must have no circle of files and no import that runs
//! back up the layers declared here. `cargo test --test integration layers -- --nocapture` prints
//! the picture and the figures; `LAYERS_SRC=DIR` checks another tree (an older commit's `src/`).
//!
//! A folder's `mod.rs` naming its own children by their bare names (`github::detect`) is the
//! folder's face handing on its parts, not an import between layers, and is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The layers from the bottom up: a module may import its own layer and the layers below it,
/// never one above. Each entry is a top-level module of `src/` (`lib` and `main` are the crate's
/// root files) with what it owns; a new top-level module must be placed here.
pub const LAYERS: &[(&str, &[(&str, &str)])] = &[
    ("vocabulary", &[("vocab", "setting names, the payload field table, where a value came from")]),
    (
        "platform",
        &[
            ("env", "the process environment, read once"),
            ("fs", "private files and directories"),
            ("secret", "the token and redaction"),
            ("git", "repository facts, commit ranges, remote URLs"),
        ],
    ),
    ("errors", &[("error", "typed errors, problems, exit codes")]),
    ("output", &[("output", "every line printed; GitHub workflow and file commands")]),
    ("payload", &[("job", "one job's validation, optional fields and change set")]),
    ("ci", &[("ci", "what each CI system says")]),
    ("start state", &[("start_state", "where `start` records a job's start")]),
    ("settings", &[("settings", "the one resolved Settings value and its sources")]),
    ("delivery", &[("delivery", "posting one job (HTTP, retries) and the spool")]),
    ("records", &[("records", "the CI platforms' records over their APIs (deployments, PR commits)")]),
    ("bulk", &[("bulk", "many jobs at once: records, checkpoints, concurrency")]),
    ("command line", &[("cli", "the clap definitions")]),
    ("commands", &[("cmd", "one file per command, each starting from Settings")]),
    (
        "entry",
        &[
            ("lib", "resolves Settings, applies its output switches, dispatches"),
            ("main", "parses, runs, exits with the error's code"),
        ],
    ),
];

/// Folders whose files must never see the raw environment: commands and output start from
/// `Settings` (or values it owns).
const NO_ENV: &[&str] = &["cmd", "output"];

/// One file of `src/`, as read for its imports.
struct File {
    /// The path under `src/`, e.g. `settings/mod.rs`.
    path: String,
    /// The module path (`["settings"]`; the crate root is `[]`, the binary `["main"]`).
    module: Vec<String>,
    text: String,
}

/// One import: `from` names `path` (resolved, absolute) on `line`, which lives in `to`.
#[derive(Debug, Clone)]
struct Import {
    from: String,
    to: String,
    line: usize,
    path: String,
}

/// What the checker found.
#[derive(Default)]
struct Findings {
    imports: Vec<Import>,
    /// Files whose top-level module has no layer.
    unplaced: BTreeSet<String>,
    /// Imports that run back up the layers.
    upward: Vec<Import>,
    /// Circles of files: each a set of files that import each other, with the imports that tie it.
    circles: Vec<Vec<Import>>,
    /// Circles of top-level modules (possible only within one layer), with the imports that tie them.
    module_circles: Vec<Vec<Import>>,
    /// Imports of the environment from a folder that must not see it.
    env_leaks: Vec<Import>,
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.iter().any(|(m, _)| *m == top))
}

fn top_of(file: &str) -> String {
    match file.split_once('/') {
        Some((dir, _)) => dir.to_owned(),
        None => file.trim_end_matches(".rs").to_owned(),
    }
}

/// The module path of a file under `src/`.
fn module_of(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = path.trim_end_matches(".rs").split('/').map(str::to_owned).collect();
    match parts.last().map(String::as_str) {
        Some("mod") => {
            parts.pop();
        }
        Some("lib") if parts.len() == 1 => parts.clear(),
        _ => {}
    }
    parts
}

/// The source with comments, strings and character literals blanked (newlines kept, so lines
/// still count): a path in a doc comment or a message is no import.
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                    out.push_str("  ");
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    out.push_str("  ");
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&b, i) {
            // A raw string: r"...", r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match b.get(j) {
                    None => break,
                    Some('"') if (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(_) => j += 1,
                }
            }
            for ch in &b[i..j.min(b.len())] {
                blank(&mut out, *ch);
            }
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            for ch in &b[i..(j + 1).min(b.len())] {
                blank(&mut out, *ch);
            }
            i = j + 1;
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{..}'), or a lifetime, which is kept.
            let end = if next == Some('\\') {
                (i + 3..b.len()).find(|&j| b[j] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for ch in &b[i..=e] {
                        blank(&mut out, *ch);
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Colons,
    Open,
    Close,
    Comma,
    Star,
    Other,
}

/// Tokens with their line numbers.
fn tokens(code: &str) -> Vec<(Tok, usize)> {
    let b: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(b[start..i].iter().collect()), line));
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push((Tok::Colons, line));
            i += 2;
        } else {
            out.push((
                match c {
                    '{' => Tok::Open,
                    '}' => Tok::Close,
                    ',' => Tok::Comma,
                    '*' => Tok::Star,
                    _ => Tok::Other,
                },
                line,
            ));
            i += 1;
        }
    }
    out
}

/// Reads a path (or a `use` tree) starting at `toks[i]`, which follows a `::`; returns the leaf
/// paths (each the segments after the root) and the index after it.
fn use_tree(toks: &[(Tok, usize)], mut i: usize, prefix: &[String], leaves: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(s)) => {
                if s != "self" {
                    path.push(s.clone());
                }
                i += 1;
                if toks.get(i).map(|t| &t.0) == Some(&Tok::Colons) {
                    i += 1;
                    continue;
                }
                leaves.push(path);
                return i;
            }
            Some(Tok::Open) => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.0) {
                        Some(Tok::Close) => return i + 1,
                        Some(Tok::Comma) => i += 1,
                        None => return i,
                        _ => i = use_tree(toks, i, &path, leaves),
                    }
                }
            }
            Some(Tok::Star) => {
                leaves.push(path);
                return i + 1;
            }
            // `crate::x::<T>` and the like: the path so far is the import.
            _ => {
                leaves.push(path);
                return i;
            }
        }
    }
}

/// The imports of one file: every path rooted at `crate` (`customcd` in the binary), `super` or
/// `self`, resolved against the module it is written in (inline `mod x { .. }` blocks included).
fn imports_of(file: &File, files: &BTreeMap<Vec<String>, String>) -> Vec<Import> {
    let toks = tokens(&code_only(&file.text));
    let crate_name = if file.module == ["main"] { "customcd" } else { "crate" };
    let mut out = Vec::new();
    // Inline modules: (name, the brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = &toks[i];
        match tok {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d > depth) {
                    inline.pop();
                }
            }
            Tok::Ident(k) if k == "mod" => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Open, _))) = (toks.get(i + 1), toks.get(i + 2)) {
                    inline.push((name.clone(), depth + 1));
                }
            }
            Tok::Ident(root)
                if (root == crate_name || root == "super" || root == "self")
                    && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::Colons)
                    && (i == 0 || toks[i - 1].0 != Tok::Colons) =>
            {
                let mut here: Vec<String> = file.module.clone();
                here.extend(inline.iter().map(|(n, _)| n.clone()));
                let mut base = if root == crate_name { Vec::new() } else { here };
                let mut j = i;
                if root == "super" {
                    base.pop();
                    j += 2;
                    while toks.get(j).map(|t| &t.0) == Some(&Tok::Ident("super".into()))
                        && toks.get(j + 1).map(|t| &t.0) == Some(&Tok::Colons)
                    {
                        base.pop();
                        j += 2;
                    }
                } else {
                    j += 2;
                }
                let mut leaves = Vec::new();
                let end = use_tree(&toks, j, &base, &mut leaves);
                for leaf in leaves {
                    // The file that holds it: the longest prefix that is a file's module.
                    let target = (0..=leaf.len()).rev().find_map(|n| files.get(&leaf[..n]));
                    if let Some(to) = target.filter(|to| **to != file.path) {
                        out.push(Import {
                            from: file.path.clone(),
                            to: to.clone(),
                            line: *line,
                            path: format!("crate::{}", leaf.join("::")),
                        });
                    }
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Checks a set of files (path under `src/` and text).
fn check(sources: &[(String, String)], no_env: &[&str]) -> Findings {
    let files: Vec<File> = sources
        .iter()
        .map(|(path, text)| File { path: path.clone(), module: module_of(path), text: text.clone() })
        .collect();
    let by_module: BTreeMap<Vec<String>, String> = files.iter().map(|f| (f.module.clone(), f.path.clone())).collect();
    let mut found = Findings::default();
    for f in &files {
        if layer_of(&top_of(&f.path)).is_none() {
            found.unplaced.insert(f.path.clone());
        }
        found.imports.extend(imports_of(f, &by_module));
    }
    for imp in &found.imports {
        if let (Some(from), Some(to)) = (layer_of(&top_of(&imp.from)), layer_of(&top_of(&imp.to))) {
            if to > from {
                found.upward.push(imp.clone());
            }
        }
        if no_env.contains(&top_of(&imp.from).as_str()) && top_of(&imp.to) == "env" {
            found.env_leaks.push(imp.clone());
        }
    }
    // Nor may they read the process environment behind `Env`'s back.
    for f in files.iter().filter(|f| no_env.contains(&top_of(&f.path).as_str())) {
        for (n, line) in code_only(&f.text).lines().enumerate() {
            if ["env::var", "env::vars", "env::var_os", "env::vars_os"].iter().any(|w| line.contains(w)) {
                found.env_leaks.push(Import {
                    from: f.path.clone(),
                    to: "env.rs".to_owned(),
                    line: n + 1,
                    path: "std::env".to_owned(),
                });
            }
        }
    }
    found.circles = circles(&found.imports);
    // Modules of one layer may import each other, but never in a circle either.
    let between: Vec<Import> = found
        .imports
        .iter()
        .filter(|i| top_of(&i.from) != top_of(&i.to))
        .map(|i| Import { from: top_of(&i.from), to: top_of(&i.to), ..i.clone() })
        .collect();
    found.module_circles = circles(&between);
    found
}

/// Strongly connected components of more than one file (Tarjan), each with the imports inside it.
fn circles(imports: &[Import]) -> Vec<Vec<Import>> {
    let mut nodes: BTreeSet<&str> = BTreeSet::new();
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for imp in imports {
        nodes.insert(&imp.from);
        nodes.insert(&imp.to);
        edges.entry(&imp.from).or_default().insert(&imp.to);
    }
    struct Tarjan<'a> {
        edges: &'a BTreeMap<&'a str, BTreeSet<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<BTreeSet<&'a str>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on.insert(v);
            for &w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut scc = BTreeSet::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(w);
                    scc.insert(w);
                    if w == v {
                        break;
                    }
                }
                if scc.len() > 1 {
                    self.out.push(scc);
                }
            }
        }
    }
    let mut t = Tarjan {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in &nodes {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.out
        .iter()
        .map(|scc| {
            imports.iter().filter(|i| scc.contains(i.from.as_str()) && scc.contains(i.to.as_str())).cloned().collect()
        })
        .collect()
}

/// Every `.rs` file under `dir`, as (path relative to `root`, text).
fn read_tree(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("read src").map(|e| e.expect("dir entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_tree(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src").to_string_lossy().replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&path).expect("read source")));
        }
    }
}

fn src_files() -> Vec<(String, String)> {
    let root =
        std::env::var("LAYERS_SRC").map_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), PathBuf::from);
    let mut out = Vec::new();
    read_tree(&root, &root, &mut out);
    out
}

/// The layer picture: each layer from the top down, one module a line with what it owns.
pub fn picture() -> String {
    let mut out = String::new();
    for (name, mods) in LAYERS.iter().rev() {
        for (i, (m, what)) in mods.iter().enumerate() {
            let _ = writeln!(out, "{:<14}{m}: {what}", if i == 0 { *name } else { "" });
        }
    }
    out
}

/// The layers in one line, bottom up, for README.
pub fn chain() -> String {
    let layers: Vec<String> =
        LAYERS.iter().map(|(_, mods)| mods.iter().map(|(m, _)| *m).collect::<Vec<_>>().join(", ")).collect();
    layers.join(" < ")
}

/// What a folder's `mod.rs` says it may import: the modules after `May import:` in its `//!`
/// header (`nothing` for none), or `None` when it does not say.
fn may_import(text: &str) -> Option<Vec<String>> {
    let header: Vec<&str> = text.lines().take_while(|l| l.starts_with("//!")).map(|l| l[3..].trim()).collect();
    let header = header.join(" ");
    let list = header.split("May import:").nth(1)?.split('.').next()?;
    Some(
        list.split(',')
            .map(|m| m.trim().trim_matches('`').to_owned())
            .filter(|m| !m.is_empty() && m != "nothing")
            .collect(),
    )
}

/// Each folder's header against the code: it says what it may import, every module it names lies
/// in its own layer or below, and its files import nothing else.
fn header_problems(sources: &[(String, String)], imports: &[Import]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (path, text) in sources.iter().filter(|(p, _)| p.ends_with("/mod.rs") && p.matches('/').count() == 1) {
        let folder = top_of(path);
        let Some(allowed) = may_import(text) else {
            wrong.push(format!("src/{path} does not say what its folder may import (`//! ... May import: a, b.`)"));
            continue;
        };
        for m in &allowed {
            match (layer_of(m), layer_of(&folder)) {
                (Some(to), Some(from)) if to <= from => {}
                _ => wrong.push(format!("src/{path} may import {m}, which is no module of its layer or below")),
            }
        }
        let used: BTreeSet<String> = imports
            .iter()
            .filter(|i| top_of(&i.from) == folder && top_of(&i.to) != folder)
            .map(|i| top_of(&i.to))
            .collect();
        for m in used.iter().filter(|m| !allowed.contains(m)) {
            let first = imports.iter().find(|i| top_of(&i.from) == folder && top_of(&i.to) == *m);
            wrong.push(format!(
                "{folder}/ imports {m}, which src/{path} does not list under May import: {}",
                first.map(describe).unwrap_or_default()
            ));
        }
    }
    wrong
}

fn describe(imp: &Import) -> String {
    format!("src/{}:{} -> src/{} ({})", imp.from, imp.line, imp.to, imp.path)
}

#[test]
fn no_circle_of_files_and_no_import_runs_back_up_the_layers() {
    let sources = src_files();
    assert!(sources.len() > 20, "read the source tree");
    let found = check(&sources, NO_ENV);
    println!("layers of src/, top down (a module imports only its own layer and those below):\n{}", picture());
    let pairs = |imports: &[Import]| imports.iter().map(|i| (i.from.clone(), i.to.clone())).collect::<BTreeSet<_>>();
    let folders = |imports: &[Import]| {
        imports.iter().map(|i| (top_of(&i.from), top_of(&i.to))).filter(|(a, b)| a != b).collect::<BTreeSet<_>>()
    };
    println!(
        "{} files, {} imports between files ({} between top-level modules), {} circles of files, {} imports back up ({} between top-level modules)",
        sources.len(),
        pairs(&found.imports).len(),
        folders(&found.imports).len(),
        found.circles.len(),
        pairs(&found.upward).len(),
        folders(&found.upward).len()
    );
    let mut wrong = String::new();
    for f in &found.unplaced {
        let _ = writeln!(wrong, "src/{f}: its top-level module has no layer: add it to LAYERS in {}", file!());
    }
    for imp in &found.upward {
        let _ = writeln!(wrong, "runs back up the layers: {}", describe(imp));
    }
    for circle in &found.circles {
        let _ = writeln!(wrong, "a circle of files:");
        for imp in circle {
            let _ = writeln!(wrong, "  {}", describe(imp));
        }
    }
    for line in header_problems(&sources, &found.imports) {
        let _ = writeln!(wrong, "{line}");
    }
    for circle in &found.module_circles {
        let _ = writeln!(wrong, "a circle of top-level modules:");
        for imp in circle {
            let _ = writeln!(wrong, "  {} -> {} ({})", imp.from, imp.to, imp.path);
        }
    }
    for imp in &found.env_leaks {
        let _ = writeln!(wrong, "the raw environment reaches {}: {}", top_of(&imp.from), describe(imp));
    }
    assert!(wrong.is_empty(), "{wrong}");
}

#[test]
fn the_docs_show_the_layers_as_the_test_declares_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap_or_default();
    let dev = read("docs/development.md");
    assert!(
        dev.contains(&format!("```text\n{}```", picture())),
        "docs/development.md should show, in a text block:\n{}",
        picture()
    );
    let readme = read("README.md");
    assert!(readme.contains(&chain()), "README's Development section should give the layers as: {}", chain());
}

#[test]
fn the_checker_finds_circles_upward_imports_and_unplaced_modules() {
    let src = |files: &[(&str, &str)]| -> Vec<(String, String)> {
        files.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())).collect()
    };
    // A circle through `super` and a grouped `use`, an upward import in an expression, the raw
    // environment in a command, and a module with no layer; paths in comments and strings are
    // not imports.
    let found = check(&src(&[
        ("lib.rs", "pub mod settings; pub mod job;"),
        ("settings/mod.rs", "mod sources;\nuse crate::job::{self, Job};\n"),
        ("settings/sources.rs", "use super::Settings;\n"),
        (
            "job/mod.rs",
            "// crate::settings::Settings\nfn f() { let s = \"crate::cmd::x\"; let q = '\\''; crate::settings::sources::read(); }\n",
        ),
        ("cmd/post.rs", "use crate::{env::Env, output};\nfn f() { std::env::var(\"GITHUB_ENV\"); }\n"),
        ("env.rs", ""),
        ("output/mod.rs", ""),
        ("extra.rs", "use crate::env::Env;"),
    ], ), &["cmd", "output"]);
    let shown: Vec<String> = found.upward.iter().map(describe).collect();
    assert_eq!(shown, ["src/job/mod.rs:2 -> src/settings/sources.rs (crate::settings::sources::read)"]);
    assert_eq!(found.circles.len(), 1);
    let tied: BTreeSet<&str> = found.circles[0].iter().map(|i| i.from.as_str()).collect();
    assert_eq!(tied, BTreeSet::from(["job/mod.rs", "settings/mod.rs", "settings/sources.rs"]));
    assert_eq!(
        found.env_leaks.iter().map(describe).collect::<Vec<_>>(),
        ["src/cmd/post.rs:1 -> src/env.rs (crate::env::Env)", "src/cmd/post.rs:2 -> src/env.rs (std::env)"]
    );
    assert_eq!(found.unplaced, BTreeSet::from(["extra.rs".to_owned()]));

    // Inline modules resolve `super` from where they stand; `self::` is the module itself.
    let found = check(
        &src(&[
            ("ci/mod.rs", "mod github;\npub(crate) mod test_env { use crate::env::Env; }\n"),
            ("ci/github.rs", "use self::inner::X;\nmod tests { use super::super::test_env::env; use super::*; }\n"),
            ("env.rs", ""),
        ]),
        &[],
    );
    let mut shown: Vec<String> = found.imports.iter().map(describe).collect();
    shown.sort();
    assert_eq!(
        shown,
        [
            "src/ci/github.rs:2 -> src/ci/mod.rs (crate::ci::test_env::env)",
            "src/ci/mod.rs:2 -> src/env.rs (crate::env::Env)"
        ]
    );
    assert!(found.upward.is_empty() && found.circles.is_empty());

    // Two modules of one layer that import each other through different files: no circle of
    // files, but a circle of modules.
    let found = check(
        &src(&[
            ("secret.rs", "use crate::fs::private::write;"),
            ("fs/mod.rs", "mod private;"),
            ("fs/private.rs", ""),
            ("fs/names.rs", "use crate::secret::redact;"),
        ]),
        &[],
    );
    assert!(found.circles.is_empty() && found.upward.is_empty());
    let tied: BTreeSet<&str> = found.module_circles.iter().flatten().map(|i| i.from.as_str()).collect();
    assert_eq!(tied, BTreeSet::from(["fs", "secret"]));
}

#[test]
fn a_folders_header_must_list_what_its_files_import() {
    let sources: Vec<(String, String)> = [
        ("job/mod.rs", "//! The job.\n//!\n//! May import: vocab,\n//! error.\nuse crate::git::open;\n"),
        ("job/epoch.rs", "use crate::error::Problem; use crate::vocab::names::Key;"),
        ("ci/mod.rs", "//! CI. May import: settings.\n"),
        ("output/mod.rs", "//! Output.\n"),
        ("git/mod.rs", ""),
        ("error.rs", ""),
        ("vocab/mod.rs", "//! Words. May import: nothing.\n"),
        ("settings/mod.rs", "//! May import: nothing.\n"),
    ]
    .iter()
    .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
    .collect();
    let found = check(&sources, &[]);
    let mut wrong = header_problems(&sources, &found.imports);
    wrong.sort();
    assert_eq!(
        wrong,
        [
            "job/ imports git, which src/job/mod.rs does not list under May import: src/job/mod.rs:5 -> src/git/mod.rs (crate::git::open)",
            "src/ci/mod.rs may import settings, which is no module of its layer or below",
            "src/git/mod.rs does not say what its folder may import (`//! ... May import: a, b.`)",
            "src/output/mod.rs does not say what its folder may import (`//! ... May import: a, b.`)",
        ]
    );
}
