#!/usr/bin/env python3
"""Fails when the docs name a version the release process would not produce.

A release of version X.Y.Z (the Cargo.toml version) pushes the git tag vX.Y.Z, which never moves,
moves vX to it, and publishes the image ghcr.io/<owner>/customcd-action:vX.Y.Z. So a reference
to this project may name vX or vX.Y.Z; a commit pin (what Renovate and Dependabot write) must
carry a `# vX` or `# vX.Y.Z` comment; the binaries a component or the Jenkins step downloads are
customcd-X.Y.Z-<arch>, and their default version is X.Y.Z.

Facts come from parsers: the version is given (ci/version-check.sh reads it with cargo metadata),
action.yml and the component's spec are read with PyYAML, and the ```yaml blocks of README and docs/ are composed
with PyYAML (node marks give the line and the rest of it, where a version comment sits). Only
text that is not YAML (prose, comments, Groovy, HTML) is matched with patterns, each of which
must find what it expects, so an example that moves cannot slip past unchecked.

usage: ci/version-check.py --root DIR --version X.Y.Z
Exit 0: every reference agrees; 1: a reference names a version no release makes (listed);
2: a file is missing or does not parse.
"""

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

SEMVER = re.compile(r"\d+\.\d+\.\d+")
FULL_SHA = re.compile(r"[0-9a-f]{40}")
# What Renovate and Dependabot write after a commit pin.
VERSION_COMMENT = re.compile(r"#\s*(v\d+(?:\.\d+\.\d+)?)\s*$")
IMAGE = re.compile(r"docker://ghcr\.io/([a-z0-9._-]+)/(customcd-action)(?::([^@\s]+)|@sha256:([0-9a-f]{64}))")


class Broken(Exception):
    """A file is missing or does not parse: the check cannot run (exit 2)."""


class Check:
    def __init__(self, root: Path, version: str):
        if not SEMVER.fullmatch(version):
            raise Broken(f"the crate version {version!r} is not X.Y.Z")
        self.root = root
        self.version = version
        self.major = f"v{version.split('.')[0]}"
        self.tags = (self.major, f"v{version}")
        self.problems: list[str] = []
        self.found: Counter = Counter()
        self.repo = ""

    # --- helpers ------------------------------------------------------------------------------
    def read(self, rel: str) -> str:
        path = self.root / rel
        try:
            return path.read_text(encoding="utf-8")
        except OSError as e:
            raise Broken(f"{rel}: {e.strerror}") from e

    def problem(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def want_tags(self) -> str:
        return f"{self.tags[0]} or {self.tags[1]} (the tags a release of {self.version} makes)"

    def ref_ok(self, ref: str, rest_of_line: str) -> bool:
        """A tag the release makes, or a commit pin whose version comment names one."""
        if ref in self.tags:
            return True
        if FULL_SHA.fullmatch(ref) or ref == "<commit sha>":
            m = VERSION_COMMENT.search(rest_of_line)
            return bool(m) and m.group(1) in self.tags
        return False

    def check_ref(self, where: str, kind: str, ref: str, rest: str) -> None:
        self.found[kind] += 1
        if not self.ref_ok(ref, rest):
            if FULL_SHA.fullmatch(ref) or ref == "<commit sha>":
                self.problem(where, f"{kind} pins a commit without a `# {self.tags[1]}` (or `# {self.tags[0]}`) comment: {rest.strip() or '(none)'}")
            else:
                self.problem(where, f"{kind} names {ref!r}; a release makes {self.want_tags()}")

    # --- facts read by parsers ----------------------------------------------------------------
    def action_yml(self) -> None:
        try:
            doc = yaml.safe_load(self.read("action.yml"))
        except yaml.YAMLError as e:
            raise Broken(f"action.yml: {e}") from e
        image = ((doc or {}).get("runs") or {}).get("image", "")
        m = IMAGE.fullmatch(image if isinstance(image, str) else "")
        if not m:
            raise Broken(f"action.yml: runs.image is {image!r}, not docker://ghcr.io/<owner>/customcd-action:<tag> or @sha256:<digest>")
        self.repo = f"{m.group(1)}/{m.group(2)}"
        tag = m.group(3)
        if tag is not None and tag != f"v{self.version}":
            self.problem("action.yml: runs.image", f"names the image tag {tag!r}; this version's release publishes v{self.version}")
        self.found["action image"] += 1

    def component_spec(self) -> None:
        rel = "templates/customcd.yml"
        try:
            docs = list(yaml.safe_load_all(self.read(rel)))
        except yaml.YAMLError as e:
            raise Broken(f"{rel}: {e}") from e
        inputs = ((docs[0] or {}).get("spec") or {}).get("inputs") or {} if docs else {}
        default = (inputs.get("version") or {}).get("default")
        self.found["component default version"] += 1
        if str(default) != self.version:
            self.problem(f"{rel}: spec.inputs.version.default", f"is {default!r}; the release of {self.version} ships customcd {self.version}")
        url = (inputs.get("release_url") or {}).get("default")
        if url != f"https://github.com/{self.repo}/releases/download":
            self.problem(f"{rel}: spec.inputs.release_url.default", f"is {url!r}, not this project's releases (https://github.com/{self.repo}/releases/download)")

    def component_inputs_table(self) -> None:
        """templates/README.md's inputs table: the `version` row's default (a Markdown table)."""
        rel = "templates/README.md"
        for n, line in enumerate(self.read(rel).splitlines(), 1):
            cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
            if len(cells) >= 3 and cells[0] == "`version`":
                self.found["inputs table version"] += 1
                if cells[2] != f"`{self.version}`":
                    self.problem(f"{rel}:{n}", f"the inputs table gives version's default as {cells[2]}; the component's is {self.version}")

    def groovy_defaults(self) -> None:
        rel = "vars/customcdReport.groovy"
        text = self.read(rel)
        for name, want in (
            ("DEFAULT_VERSION", self.version),
            ("DEFAULT_RELEASE_URL", f"https://github.com/{self.repo}/releases/download"),
        ):
            found = re.findall(rf"^@Field static final String {name} = '([^']*)'$", text, re.M)
            if len(found) != 1:
                raise Broken(f"{rel}: expected one line `@Field static final String {name} = '...'`, found {len(found)}")
            self.found[f"Jenkins {name}"] += 1
            if found[0] != want:
                self.problem(f"{rel}: {name}", f"is {found[0]!r}; want {want!r}")

    # --- the YAML examples of README and docs/, composed by the parser ---------------------------------------
    def yaml_blocks(self, rel: str) -> list[tuple[int, str]]:
        """The ```yaml / ```yml fenced blocks of a Markdown file: (first line number, text)."""
        blocks, lines, start, body = [], self.read(rel).splitlines(), None, []
        for n, line in enumerate(lines, 1):
            stripped = line.strip()
            if start is None and stripped in ("```yaml", "```yml"):
                start, body, indent = n + 1, [], line[: len(line) - len(line.lstrip())]
            elif start is not None and stripped == "```":
                blocks.append((start, "\n".join(l[len(indent):] if l.startswith(indent) else l for l in body)))
                start = None
            elif start is not None:
                body.append(line)
        return blocks

    def walk(self, node):
        """(key, value node) for every mapping entry under node."""
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    yield k.value, v
                yield from self.walk(v)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                yield from self.walk(item)

    def markdown_yaml(self, rel: str) -> None:
        for first, text in self.yaml_blocks(rel):
            src = text.splitlines()
            try:
                root = yaml.compose(text)  # no construction: GitLab's !reference tags are fine
            except yaml.YAMLError as e:
                raise Broken(f"{rel}: the ```yaml block at line {first} does not parse: {e}") from e
            for key, node in self.walk(root):
                if not isinstance(node, yaml.ScalarNode):
                    continue
                line = node.start_mark.line
                where = f"{rel}:{first + line}"
                rest = src[line][node.end_mark.column:] if node.end_mark.line == line else ""
                value = node.value
                if key == "uses" and "customcd" in value.lower():
                    name, _, ref = value.partition("@")
                    # The Docker action at the root, the setup action in setup/.
                    if name not in (self.repo, f"{self.repo}/setup"):
                        self.problem(where, f"uses {name!r}; the action is {self.repo} (or {self.repo}/setup)")
                    self.check_ref(where, "uses:", ref, rest)
                elif key == "component":
                    path, _, ref = value.rpartition("@")
                    if not path.endswith("/customcd"):
                        self.problem(where, f"component {value!r} is not <project>/customcd@<version>")
                    self.check_ref(where, "component:", ref, rest)
                elif key == "remote" and self.repo in value:
                    m = re.fullmatch(rf"https://raw\.githubusercontent\.com/{re.escape(self.repo)}/([^/]+)/templates/customcd\.yml", value)
                    if not m:
                        self.problem(where, f"remote {value!r} is not the raw templates/customcd.yml of a tag")
                    else:
                        self.check_ref(where, "remote include", m.group(1), rest)
                elif key == "version" and SEMVER.fullmatch(value):
                    self.found["component version input"] += 1
                    if value != self.version:
                        self.problem(where, f"the component input version is {value}; this release ships {self.version}")

    # --- text that is not YAML: prose, comments, Groovy, HTML ---------------------------------
    def text(self, rel: str, skip_yaml_blocks: bool) -> None:
        lines = self.read(rel).splitlines()
        in_yaml = False
        for n, line in enumerate(lines, 1):
            stripped = line.strip()
            if skip_yaml_blocks and stripped in ("```yaml", "```yml"):
                in_yaml = True
                continue
            if in_yaml:
                in_yaml = stripped != "```"
                continue
            where = f"{rel}:{n}"
            for m in re.finditer(r"([\w.-]+/customcd-action)@(<commit sha>|[^\s'\"`)]+)", line):
                if line[: m.start()].endswith("ghcr.io/") and m.group(2).startswith("sha256:"):
                    continue  # the image by digest: immutable, whatever the version
                if m.group(1) != self.repo and not m.group(1).startswith("acme/"):
                    self.problem(where, f"names the action {m.group(1)!r}; it is {self.repo}")
                # The rest of the line, up to the end of an inline code span, may hold the pin's comment.
                self.check_ref(where, "the action", m.group(2), line[m.end():].split("`")[0])
            for m in re.finditer(r"component:\s*(\S+)@([^\s`]+)", line):
                if m.group(2).startswith("$"):
                    continue  # the project's own pipeline: the component of its own commit
                self.check_ref(where, "component:", m.group(2), line[m.end():])
            for m in re.finditer(r"customcd-action/(v[^/\s]*)/templates/", line):
                self.check_ref(where, "remote include", m.group(1), "")
            for m in re.finditer(r"ghcr\.io/[\w.-]+/customcd-action:([^\s`]+)", line):
                self.found["image tag"] += 1
                if m.group(1) not in (*self.tags, "v<version>"):
                    self.problem(where, f"names the image tag {m.group(1)!r}; a release publishes {self.want_tags()}")
            for m in re.finditer(r"customcd-(\d+\.\d+\.\d+)-(?:x86_64|aarch64)", line):
                self.found["asset name"] += 1
                if m.group(1) != self.version:
                    self.problem(where, f"names the release binary customcd-{m.group(1)}-...; this release ships customcd-{self.version}-...")
            for m in re.finditer(r"\bversion:\s*'([^']*)'", line):
                self.found["Jenkins version option"] += 1
                if m.group(1) != self.version:
                    self.problem(where, f"passes the Jenkins option version: '{m.group(1)}'; this release ships {self.version}")
            for m in re.finditer(r"gh release (?:download|verify|verify-asset) (v\S+)|contents/action\.yml\?ref=(v[^'&\s]+)", line):
                # A GitHub release exists for vX.Y.Z only; vX is a tag that moves.
                self.found["release tag"] += 1
                tag = m.group(1) or m.group(2)
                if tag != self.tags[1]:
                    self.problem(where, f"names the release {tag!r}; this version's release is {self.tags[1]}")
            for m in re.finditer(r"@Library\('customcd@([^']+)'\)", line):
                self.check_ref(where, "@Library", m.group(1), "")
            for m in re.finditer(r"<code>X\.Y\.Z</code>; default (\d+\.\d+\.\d+)", line):
                self.found["Jenkins default in docs"] += 1
                if m.group(1) != self.version:
                    self.problem(where, f"documents the default version {m.group(1)}; the step's is {self.version}")

    def run(self) -> None:
        self.action_yml()
        self.component_spec()
        self.component_inputs_table()
        self.groovy_defaults()
        before = Counter(self.found)
        # README and every reference page in docs/ (sorted, so messages come in a stable order).
        pages = ["README.md", *sorted(str(p.relative_to(self.root)) for p in (self.root / "docs").glob("*.md")), "templates/README.md"]
        if len(pages) == 2:
            raise Broken("docs/ has no pages")
        for rel in pages:
            self.markdown_yaml(rel)
            self.text(rel, skip_yaml_blocks=True)
        for rel in ("templates/customcd.yml", "vars/customcdReport.txt", "vars/customcdReport.groovy"):
            self.text(rel, skip_yaml_blocks=False)
        # Every example this check exists for was seen: one that moves or changes shape fails
        # here instead of passing unchecked.
        seen = self.found - before
        for kind in ("uses:", "component:", "remote include", "asset name", "image tag", "Jenkins default in docs"):
            if not seen[kind]:
                raise Broken(f"found no {kind} reference in the docs; if an example moved, teach ci/version-check.py its new shape")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--version", required=True)
    a = p.parse_args()
    try:
        check = Check(a.root, a.version)
        check.run()
    except Broken as e:
        print(f"version-check: cannot check: {e}", file=sys.stderr)
        return 2
    for line in check.problems:
        print(f"version-check: {line}", file=sys.stderr)
    if check.problems:
        print(f"version-check: FAIL: {len(check.problems)} reference(s) name a version no release of {a.version} makes", file=sys.stderr)
        return 1
    counts = ", ".join(f"{k} {v}" for k, v in sorted(check.found.items()))
    print(f"version-check: ok: {a.version} (tags {check.tags[0]}, {check.tags[1]}; action {check.repo}); checked {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
