#!/usr/bin/env python3
"""Assert on the requests recorded by ci/receiver.py.

usage: expect.py LOG [--count N] CHECK...

CHECK is INDEX.PATH OP VALUE with no spaces, e.g.
  0.method==POST  0.body.status==Succeeded  1.body.job_duration>=2
  0.headers.Authorization==Bearer%20t0k  0.body.commit_sha~^[0-9a-f]{40}$  0.body.repo_id!
  0.body.optional.[key:team].value==e2e  *.path==/v0.1.0/SHA256SUMS
INDEX is a request's number (from 0) or * (some request passes the check).
A PATH part [FIELD:VALUE] picks the element of a list whose FIELD is VALUE (as text).
OP is == (equal as text), != , >= / <= (numbers), ~ (regex search), ! (absent), ? (present).
%20 in VALUE stands for a space. Header names match case-insensitively.
Prints every failed check with the request it looked at; exits 1 on any failure.
"""
import json
import re
import sys


def as_text(v):
    return v if isinstance(v, str) else json.dumps(v)


def lookup(entry, path):
    cur = entry
    for part in path.split("."):
        pick = re.fullmatch(r"\[([^:\]]+):([^\]]*)\]", part)
        if pick and isinstance(cur, list):
            field, want = pick[1], pick[2].replace("%20", " ")
            found = [e for e in cur if isinstance(e, dict) and field in e and as_text(e[field]) == want]
            if len(found) != 1:
                raise KeyError(part)
            cur = found[0]
            continue
        if isinstance(cur, dict):
            if part in cur:
                cur = cur[part]
                continue
            low = {k.lower(): k for k in cur}
            if part.lower() in low:
                cur = cur[low[part.lower()]]
                continue
            raise KeyError(part)
        if isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
            continue
        raise KeyError(part)
    return cur


def holds(entry, path, op, want):
    """Whether one request passes one check; also what was found there and whether it was."""
    try:
        got = lookup(entry, path)
        present = True
    except KeyError:
        got, present = None, False
    ok = False
    if op == "!":
        ok = not present
    elif op == "?":
        ok = present
    elif present:
        text = as_text(got)
        try:
            if op == "==":
                ok = text == want
            elif op == "!=":
                ok = text != want
            elif op == ">=":
                ok = float(got) >= float(want)
            elif op == "<=":
                ok = float(got) <= float(want)
            elif op == "~":
                ok = re.search(want, text) is not None
        except (TypeError, ValueError):
            ok = False
    return ok, got, present


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    log, rest = argv[0], argv[1:]
    try:
        with open(log, encoding="utf-8") as f:
            entries = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        entries = []
    failures = []
    if rest[:1] == ["--count"]:
        want = int(rest[1])
        rest = rest[2:]
        if len(entries) != want:
            failures.append(f"expected {want} request(s) at the receiver, got {len(entries)}")
    for check in rest:
        m = re.fullmatch(r"(\d+|\*)\.([^=!<>~?]+)(==|!=|>=|<=|~|!|\?)(.*)", check)
        if not m:
            print(f"expect.py: bad check {check!r}", file=sys.stderr)
            return 2
        path, op, want = m[2], m[3], m[4].replace("%20", " ")
        if m[1] == "*":
            if not any(holds(e, path, op, want)[0] for e in entries):
                failures.append(f"{check}: no request of {len(entries)} passes it")
            continue
        idx = int(m[1])
        if idx >= len(entries):
            failures.append(f"{check}: request #{idx} was never received ({len(entries)} recorded)")
            continue
        ok, got, present = holds(entries[idx], path, op, want)
        if not ok:
            shown = json.dumps(got) if present else "(absent)"
            failures.append(f"{check}: request #{idx} has {path} = {shown}")
    if failures:
        print("FAIL: the recorded requests are not what was expected:", file=sys.stderr)
        for f in failures:
            print("  - " + f, file=sys.stderr)
        print("recorded requests:", file=sys.stderr)
        for i, e in enumerate(entries):
            shown = {k: e[k] for k in ("method", "path", "body", "status") if k in e}
            print(f"  #{i}: {json.dumps(shown)}", file=sys.stderr)
        return 1
    print(f"ok: {len(entries)} request(s), {len(rest)} check(s) passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
