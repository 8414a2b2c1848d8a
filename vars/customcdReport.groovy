// Jenkins shared-library step: report the build to the Allstacks Custom CD webhook with customcd.
//
//   @Library('customcd') _
//   pipeline {
//     agent any
//     environment {
//       CUSTOMCD_URL = 'https://…/customcd/webhook'      // or CUSTOMCD_SERVER + CUSTOMCD_COMPANY_ID
//       CUSTOMCD_TOKEN = credentials('allstacks-token')   // a secret-text credential
//       CUSTOMCD_SERVICE_ID = '42'
//     }
//     stages {
//       stage('start')  { steps { customcdReport(start: true) } }   // records the start
//       stage('deploy') { steps { sh './deploy.sh' } }
//     }
//     post { always { customcdReport(jobType: 'deploy') } }          // status = currentBuild.currentResult
//   }
//
// Options: start (true: run `customcd start` only), status (default currentBuild.currentResult),
// jobType, serviceId, fields (list of KEY[:TYPE]=VALUE), version, sha256 (pin the binary; empty
// checks the release's SHA256SUMS), releaseUrl. A `customcd` on the agent's PATH is used as is;
// otherwise the pinned release is downloaded into the workspace's tmp dir and its SHA-256 checked.
// Linux agents (x86_64, aarch64) with sh, sha256sum and curl or wget.
def call(Map args = [:]) {
    String version = args.version ?: '0.1.0'
    String releaseUrl = args.releaseUrl ?: 'https://github.com/allstacks-community/customcd-action/releases/download'
    String status = args.status ?: currentBuild.currentResult
    List<String> cmd = args.start ? ['start'] : ['report', '--status', status]
    if (!args.start) {
        if (args.jobType) { cmd += ['--job-type', args.jobType as String] }
        if (args.serviceId) { cmd += ['--service-id', args.serviceId as String] }
        (args.fields ?: []).each { cmd += ['--field', it as String] }
    }
    // Values go through the environment, never into the shell text.
    withEnv([
        "CUSTOMCD_STEP_VERSION=${version}",
        "CUSTOMCD_STEP_SHA256=${args.sha256 ?: ''}",
        "CUSTOMCD_STEP_RELEASE_URL=${releaseUrl}",
        "CUSTOMCD_STEP_TMP=${env.WORKSPACE_TMP ?: pwd(tmp: true)}",
        "CUSTOMCD_STEP_ARGS=${cmd.collect { it.replace('\n', ' ') }.join('\n')}",
    ]) {
        sh(label: args.start ? 'customcd start' : 'customcd report', script: '''#!/bin/sh
set -eu
if command -v customcd >/dev/null 2>&1; then
  bin=$(command -v customcd)
else
  case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) echo "customcd: no release binary for $(uname -m)" >&2; exit 1 ;;
  esac
  asset="customcd-${CUSTOMCD_STEP_VERSION}-${arch}-unknown-linux-musl"
  dir="${CUSTOMCD_STEP_TMP}/customcd-${CUSTOMCD_STEP_VERSION}-${arch}"
  bin="$dir/customcd"   # plain name: the binary dispatches on it (customcd-start, ...)
  if [ ! -x "$bin" ]; then
    mkdir -p "$dir"
    base="${CUSTOMCD_STEP_RELEASE_URL}/v${CUSTOMCD_STEP_VERSION}"
    get() { if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$2" "$1"; else wget -q -O "$2" "$1"; fi; }
    get "$base/$asset" "$dir/customcd.download"
    want="${CUSTOMCD_STEP_SHA256}"
    if [ -z "$want" ]; then
      get "$base/SHA256SUMS" "$dir/SHA256SUMS"
      want=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1 }' "$dir/SHA256SUMS")
    fi
    got=$(sha256sum "$dir/customcd.download" | cut -d' ' -f1)
    if [ -z "$want" ] || [ "$got" != "$want" ]; then
      echo "customcd: checksum mismatch for $asset: got $got, want ${want:-none}" >&2
      exit 1
    fi
    chmod +x "$dir/customcd.download"
    mv "$dir/customcd.download" "$bin"
  fi
fi
# One argument per line in CUSTOMCD_STEP_ARGS.
set --
nl='
'
old_ifs=$IFS; IFS=$nl
for a in $CUSTOMCD_STEP_ARGS; do set -- "$@" "$a"; done
IFS=$old_ifs
exec "$bin" "$@"
''')
    }
}
