#!/bin/sh
# An OCI runtime shim for tests: removes the network namespace from the bundle's config.json
# before handing over to runc, so containers share the host's network and reach a test server
# on 127.0.0.1. act asks podman for the "default" network, a private bridge where the host's
# loopback is unreachable. Use: podman --runtime /path/to/oci-runtime-hostnet.sh ...
# runc is found via $CUSTOMCD_RUNC (default: runc on PATH).
set -eu
runc=${CUSTOMCD_RUNC:-runc}
bundle=
prev=
for a in "$@"; do
  case "$prev" in --bundle|-b) bundle=$a ;; esac
  case "$a" in --bundle=*) bundle=${a#--bundle=} ;; esac
  prev=$a
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
  python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    cfg = json.load(f)
ns = cfg.get("linux", {}).get("namespaces", [])
kept = [n for n in ns if n.get("type") != "network"]
if len(kept) != len(ns):
    cfg["linux"]["namespaces"] = kept
    with open(path, "w") as f:
        json.dump(cfg, f)
PY
fi
exec "$runc" "$@"
