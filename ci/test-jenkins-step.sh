#!/usr/bin/env bash
# Unit test of the Jenkins shared-library step (vars/customcdReport.groovy) with Debian's groovy:
# ci/jenkins-test/CustomcdReportTest.groovy stubs the pipeline steps and runs the step's shell
# script for real against a file:// release and a fake customcd; with the static binary (the
# argument, else the default build output when it exists) it also drives customcd itself as a dry
# run. Needs no Jenkins and no network.
# usage: ci/test-jenkins-step.sh [PATH_TO_STATIC_BINARY]   (installs groovy with apt-get when
# missing and run as root)
set -euo pipefail
SCRIPT_NAME=test-jenkins-step
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

if ! command -v groovy >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing groovy (apt-get)"
    run_bounded 900 apt-get install -y groovy >/dev/null 2>&1 \
      || { run_bounded 300 apt-get update >/dev/null 2>&1 && run_bounded 900 apt-get install -y groovy >/dev/null 2>&1; } \
      || die "apt-get install groovy failed"
  else
    die "groovy is not installed (apt-get install -y groovy)"
  fi
fi
# Debian's groovy looks for /usr/lib/jvm/default-java; point it at an installed JDK instead.
if [[ -z "${JAVA_HOME:-}" || ! -x "${JAVA_HOME}/bin/java" ]]; then
  for jdk in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64 /usr/lib/jvm/default-java; do
    if [[ -x "$jdk/bin/java" ]]; then export JAVA_HOME=$jdk; break; fi
  done
fi
[[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]] || die "no JDK found for groovy (set JAVA_HOME)"
command -v sha256sum >/dev/null || die "sha256sum is missing"
command -v curl >/dev/null || die "curl is missing (the step's script fetches file:// releases with it)"

BIN=
if [[ -n "${1:-}" || -x "$DEFAULT_BIN" ]]; then BIN=$(resolve_binary "${1:-}"); fi
log "groovy $(groovy --version 2>/dev/null | sed -n 's/^Groovy Version: \([^ ]*\).*/\1/p') with JAVA_HOME=$JAVA_HOME"
run_bounded 300 groovy "$ROOT/ci/jenkins-test/CustomcdReportTest.groovy" "$ROOT" ${BIN:+"$BIN"} || die "the Jenkins step's unit test failed"
log "PASS"
