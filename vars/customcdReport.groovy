// Jenkins shared-library step: report the build to the Allstacks Custom CD webhook with customcd.
//
//   @Library('customcd') _
//   pipeline {
//     agent any
//     environment {
//       CUSTOMCD_URL = 'https://allstacks.example.com/webhook/company/123/cicd_job'  // or CUSTOMCD_SERVER + CUSTOMCD_COMPANY_ID
//       CUSTOMCD_TOKEN = credentials('CUSTOMCD_TOKEN')                                // a secret-text credential
//       CUSTOMCD_SERVICE_ID = '42'
//     }
//     stages {
//       stage('deploy') { steps { sh './deploy.sh' } }
//     }
//     post { always { customcdReport(jobType: 'deploy', sha256: '<sha256 from SHA256SUMS>') } }
//   }
//
// One call in post is enough: when no start was recorded (no earlier customcdReport(start: true)
// and no CUSTOMCD_JOB_START_TIME), the start is currentBuild.startTimeInMillis, so the duration is
// the build's. The status is currentBuild.currentResult unless `status` is given.
//
// Options (all optional): status, jobType, serviceId, jobId, environment, fields (a list of
// KEY[:TYPE]=VALUE, or one string with one spec per line), failOnError ('refusal', the default: a
// refused token fails the build, an outage only warns; true; false), start (true: only record the start, for
// timing a part of the build), version, sha256 (pin the binary), releaseUrl. See customcdReport.txt.
//
// The binary: with no pin, a `customcd` on the agent's PATH is used as it is. With a pin, only bytes
// that match it run: a `customcd` on PATH that does not match is skipped. The release is
// downloaded once into the workspace's tmp dir and, on every call, copied into a private directory
// and checked there against the pin (else against the release's SHA256SUMS, fetched each time);
// a cached copy that does not match is downloaded again, and a download that does not match fails.
// Linux agents (x86_64, aarch64) with sh, sha256sum and curl or wget. Windows agents (isUnix()
// false, x86_64): the same through the powershell step (Windows PowerShell 5.1 or later), with
// customcd.exe, Get-FileHash and Invoke-WebRequest; pin customcd-<version>-x86_64-pc-windows-msvc.exe.
// `agent none` pipelines: call it inside a stage that has an agent (or inside node { ... }).

import groovy.transform.Field

@Field static final Set<String> OPTIONS = [
    'status', 'jobType', 'serviceId', 'jobId', 'environment', 'fields', 'failOnError', 'start', 'version', 'sha256',
    'releaseUrl',
] as Set

@Field static final String DEFAULT_VERSION = '1.0.0'
@Field static final String DEFAULT_RELEASE_URL = 'https://github.com/allstacks-community/customcd-action/releases/download'

def call(Map args = [:]) {
    List<String> unknown = args.keySet().collect { it as String }.findAll { !OPTIONS.contains(it) }
    if (unknown) {
        error("customcdReport: unknown option(s) ${unknown.join(', ')}; the options are ${OPTIONS.join(', ')}")
    }
    // Outside a node (an `agent none` pipeline's own post section) there is no workspace to run in.
    if (!env.NODE_NAME) {
        error('customcdReport: no agent here (an `agent none` pipeline?). Call it inside a stage that has an agent, ' +
            "e.g. in that stage's post { always { customcdReport() } }, or wrap it in node('linux') { ... }")
    }
    boolean unix = isUnix()
    String version = (args.version ?: DEFAULT_VERSION) as String
    if (!(version ==~ /\d+\.\d+\.\d+/)) {
        error("customcdReport: version '${version}' is not X.Y.Z (a customcd release, e.g. ${DEFAULT_VERSION})")
    }
    String pin = ((args.sha256 ?: '') as String).trim().toLowerCase()
    if (pin && !(pin ==~ /[0-9a-f]{64}/)) {
        error("customcdReport: sha256 '${pin}' is not 64 hex digits; copy the line for your agent's binary from the release's SHA256SUMS")
    }
    String releaseUrl = (args.releaseUrl ?: DEFAULT_RELEASE_URL) as String
    String tmp = env.WORKSPACE_TMP ?: pwd(tmp: true)

    List<String> cmd
    List<String> extraEnv = []
    if (args.start) {
        cmd = ['start']
    } else {
        // The build's result travels as job_status, Jenkins' own word (sent as ci_result; ABORTED
        // is no FAILURE there); a status option, when given, is the status.
        cmd = ['report', '--job-status', currentBuild.currentResult as String]
        if (args.status) { cmd += ['--status', args.status as String] }
        // Who started the build: its causes, which customcd reads (a user's UserIdCause is a
        // person; a timer, an SCM change or an upstream build is nobody).
        extraEnv << "CUSTOMCD_STEP_CAUSES=${buildCauses()}".toString()
        if (args.jobType) { cmd += ['--job-type', args.jobType as String] }
        if (args.serviceId) { cmd += ['--service-id', args.serviceId as String] }
        if (args.jobId) { cmd += ['--job-id', args.jobId as String] }
        if (args.environment) { cmd += ['--environment', args.environment as String] }
        // false is a value here, so the key decides: refusal (customcd's default), true or false.
        if (args.containsKey('failOnError')) { cmd += ["--fail-on-error=${args.failOnError}" as String] }
        fieldSpecs(args.fields).each { cmd += ['--field', it] }
        if (!env.CUSTOMCD_JOB_START_TIME && !startRecorded(unix)) {
            // startTimeInMillis is epoch milliseconds; customcd takes seconds.
            long startMs = currentBuild.startTimeInMillis as long
            extraEnv << "CUSTOMCD_JOB_START_TIME=${Math.floorDiv(startMs, 1000L)}".toString()
        }
    }
    cmd.each {
        if (it.contains('\n')) { error("customcdReport: an option value spans lines: ${it.readLines()[0]}...") }
    }
    // Values go through the environment, never into the shell or PowerShell text.
    withEnv(extraEnv + [
        "CUSTOMCD_STEP_VERSION=${version}".toString(),
        "CUSTOMCD_STEP_SHA256=${pin}".toString(),
        "CUSTOMCD_STEP_RELEASE_URL=${releaseUrl}".toString(),
        "CUSTOMCD_STEP_TMP=${tmp}".toString(),
        "CUSTOMCD_STEP_ARGS=${cmd.join('\n')}".toString(),
    ]) {
        String label = args.start ? 'customcd start' : 'customcd report'
        if (unix) {
            sh(label: label, script: SCRIPT)
        } else {
            powershell(label: label, script: PS_SCRIPT)
        }
    }
}

/** currentBuild.getBuildCauses() as JSON on one line ('[]' where it cannot be read). */
private String buildCauses() {
    try {
        return (currentBuild.getBuildCauses()?.toString() ?: '[]').replaceAll(/[\r\n]+/, ' ')
    } catch (Exception ignored) {
        return '[]'
    }
}

/** The fields option: a list of specs, or one string with one spec per line. */
private List<String> fieldSpecs(def fields) {
    if (!fields) { return [] }
    List<String> specs = (fields instanceof Collection) ? fields.collect { it as String } : (fields as String).readLines()
    return specs.collect { it.trim() }.findAll { it }
}

/**
 * Whether `customcd start` recorded this build's start: its state file, named as customcd names
 * it (src/start_state.rs and src/fs safe_name: customcd-start-<BUILD_TAG> with characters other
 * than A-Z a-z 0-9 . _ - as _, a trailing . as _, cut to 200 with a SHA-256 tag when longer) in
 * WORKSPACE_TMP, else TMPDIR, else /tmp (Windows: TMP, else TEMP). A recorded start wins over the
 * build's, so a start stage still times a part.
 */
private boolean startRecorded(boolean unix) {
    if (!env.BUILD_TAG) { return false }
    String dir = env.WORKSPACE_TMP ?: env.TMPDIR ?: (unix ? '/tmp' : (env.TMP ?: env.TEMP))
    if (!dir) { return false }
    return fileExists("${dir}${unix ? '/' : '\\'}customcd-start-${safeName(env.BUILD_TAG as String, 200)}")
}

/**
 * customcd's safe_name (src/fs/mod.rs): the same file name part on every platform. Java's regex
 * matches whole code points, as customcd maps characters.
 */
private static String safeName(String text, int max) {
    String safe = text.replaceAll(/[^A-Za-z0-9._-]/, '_')
    if (safe.length() > max) {
        // Rare (a BUILD_TAG over 200 characters): the tag keeps two long names apart.
        byte[] digest = java.security.MessageDigest.getInstance('SHA-256').digest(text.getBytes('UTF-8'))
        String tag = (0..<8).collect { int i -> String.format('%02x', digest[i]) }.join('')
        safe = safe.substring(0, max - tag.length() - 1) + '-' + tag
    }
    return safe.endsWith('.') ? safe.substring(0, safe.length() - 1) + '_' : safe
}

@Field static final String SCRIPT = '''#!/bin/sh
set -eu
sha() { sha256sum "$1" | cut -d' ' -f1; }
pin=$CUSTOMCD_STEP_SHA256
bin=
run=
if path=$(command -v customcd 2>/dev/null); then
  if [ -z "$pin" ] || [ "$(sha "$path")" = "$pin" ]; then
    bin=$path
  else
    echo "customcd: $path does not match the sha256 option; using the pinned release instead" >&2
  fi
fi
if [ -z "$bin" ]; then
  case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) echo "customcd: no release binary for $(uname -m)" >&2; exit 1 ;;
  esac
  asset="customcd-${CUSTOMCD_STEP_VERSION}-${arch}-unknown-linux-musl"
  base="${CUSTOMCD_STEP_RELEASE_URL}/v${CUSTOMCD_STEP_VERSION}"
  cache="${CUSTOMCD_STEP_TMP}/customcd-${CUSTOMCD_STEP_VERSION}-${arch}"
  get() { if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$2" "$1"; else wget -q -O "$2" "$1"; fi; }
  # What runs is a private copy, checked after it was copied: a cached binary is never trusted as
  # it is, whoever (or whichever pin) put it there.
  mkdir -p "$CUSTOMCD_STEP_TMP"
  run=$(mktemp -d "${CUSTOMCD_STEP_TMP}/customcd-run.XXXXXX")
  if [ -n "$pin" ]; then
    want=$pin
  else
    get "$base/SHA256SUMS" "$run/SHA256SUMS"
    want=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1 }' "$run/SHA256SUMS")
    if [ -z "$want" ]; then echo "customcd: $base/SHA256SUMS has no line for $asset" >&2; rm -rf "$run"; exit 1; fi
  fi
  if [ -f "$cache/customcd" ] && cp "$cache/customcd" "$run/customcd" && [ "$(sha "$run/customcd")" = "$want" ]; then
    echo "customcd: using the cached $asset, sha256 $want verified"
  else
    if [ -f "$cache/customcd" ]; then
      echo "customcd: the cached $asset does not match sha256 $want; downloading it again" >&2
    fi
    get "$base/$asset" "$run/customcd"
    got=$(sha "$run/customcd")
    if [ "$got" != "$want" ]; then
      echo "customcd: checksum mismatch for $asset: got $got, want $want (the sha256 option, else SHA256SUMS); nothing was reported" >&2
      rm -rf "$run"
      exit 1
    fi
    echo "customcd: downloaded $asset, sha256 $want verified"
    # Best effort: a cache that cannot be written only costs a download next time.
    if mkdir -p "$cache" 2>/dev/null && cp "$run/customcd" "$cache/customcd.$$" 2>/dev/null; then
      mv -f "$cache/customcd.$$" "$cache/customcd" 2>/dev/null || true
    fi
  fi
  # Saved as plain `customcd`: the binary dispatches on its name (customcd-start, ...).
  chmod 0700 "$run/customcd"
  bin="$run/customcd"
fi
# One argument per line in CUSTOMCD_STEP_ARGS.
set --
nl='
'
old_ifs=$IFS; IFS=$nl
set -f  # a value such as team=* is not a file pattern
for a in $CUSTOMCD_STEP_ARGS; do set -- "$@" "$a"; done
set +f
IFS=$old_ifs
rc=0
"$bin" "$@" || rc=$?
if [ -n "$run" ]; then rm -rf "$run"; fi
exit "$rc"
'''

// The Windows agent's script (the powershell step): what SCRIPT does, in PowerShell. Backslashes are
// doubled for this Groovy string.
@Field static final String PS_SCRIPT = '''# customcdReport on a Windows agent (Windows PowerShell 5.1 or PowerShell 7). Values come from the
# environment (CUSTOMCD_STEP_*), never from this text.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'  # 5.1's progress bar slows Invoke-WebRequest to a crawl
function Say([string]$Text) { [Console]::Error.WriteLine("customcd: $Text") }
function Get-Sha256([string]$Path) { (Get-FileHash -Algorithm SHA256 -LiteralPath $Path).Hash.ToLowerInvariant() }
function Get-Url([string]$Url, [string]$OutFile) {
  if ($Url.StartsWith('file://')) {
    Copy-Item -LiteralPath ([Uri]$Url).LocalPath -Destination $OutFile
  } else {
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
    Invoke-WebRequest -UseBasicParsing -Uri $Url -OutFile $OutFile
  }
}
# One argument of a Windows command line, quoted as CommandLineToArgvW (and Rust) read it back.
function Quote-Arg([string]$Arg) {
  if ($Arg -ne '' -and $Arg -notmatch '[\\s"]') { return $Arg }
  $q = [regex]::Replace($Arg, '(\\\\*)"', { param($m) $m.Groups[1].Value + $m.Groups[1].Value + '\\"' })
  $q = [regex]::Replace($q, '(\\\\+)$', { param($m) $m.Groups[1].Value + $m.Groups[1].Value })
  return '"' + $q + '"'
}
$pin = $env:CUSTOMCD_STEP_SHA256
$bin = $null
$run = $null
$onPath = Get-Command customcd.exe -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
if ($onPath) {
  if (-not $pin -or (Get-Sha256 $onPath.Source) -eq $pin) {
    $bin = $onPath.Source
  } else {
    Say "$($onPath.Source) does not match the sha256 option; using the pinned release instead"
  }
}
if (-not $bin) {
  $arch = if ($env:PROCESSOR_ARCHITEW6432) { $env:PROCESSOR_ARCHITEW6432 } else { $env:PROCESSOR_ARCHITECTURE }
  if ($arch -ne 'AMD64') { Say "no Windows release binary for $arch (x86_64 only)"; exit 1 }
  $version = $env:CUSTOMCD_STEP_VERSION
  $asset = "customcd-$version-x86_64-pc-windows-msvc.exe"
  $base = "$($env:CUSTOMCD_STEP_RELEASE_URL)/v$version"
  $cache = Join-Path $env:CUSTOMCD_STEP_TMP "customcd-$version-x86_64-windows"
  $cached = Join-Path $cache 'customcd.exe'
  # What runs is a private copy, checked after it was copied: a cached binary is never trusted as
  # it is, whoever (or whichever pin) put it there.
  New-Item -ItemType Directory -Force -Path $env:CUSTOMCD_STEP_TMP | Out-Null
  $run = Join-Path $env:CUSTOMCD_STEP_TMP ('customcd-run.' + [guid]::NewGuid().ToString('N'))
  New-Item -ItemType Directory -Path $run | Out-Null
  $exe = Join-Path $run 'customcd.exe'
  if ($pin) {
    $want = $pin
  } else {
    $sums = Join-Path $run 'SHA256SUMS'
    Get-Url "$base/SHA256SUMS" $sums
    $want = $null
    foreach ($line in Get-Content -LiteralPath $sums) {
      $f = $line.Trim() -split '\\s+', 2
      if ($f.Count -eq 2 -and ($f[1] -eq $asset -or $f[1] -eq "*$asset")) { $want = $f[0].ToLowerInvariant() }
    }
    if (-not $want) { Say "$base/SHA256SUMS has no line for $asset"; Remove-Item -Recurse -Force -LiteralPath $run; exit 1 }
  }
  $fromCache = $false
  if (Test-Path -LiteralPath $cached -PathType Leaf) {
    Copy-Item -LiteralPath $cached -Destination $exe
    $fromCache = (Get-Sha256 $exe) -eq $want
    if (-not $fromCache) { Say "the cached $asset does not match sha256 $want; downloading it again" }
  }
  if ($fromCache) {
    Write-Output "customcd: using the cached $asset, sha256 $want verified"
  } else {
    Get-Url "$base/$asset" $exe
    $got = Get-Sha256 $exe
    if ($got -ne $want) {
      Say "checksum mismatch for ${asset}: got $got, want $want (the sha256 option, else SHA256SUMS); nothing was reported"
      Remove-Item -Recurse -Force -LiteralPath $run
      exit 1
    }
    Write-Output "customcd: downloaded $asset, sha256 $want verified"
    # Best effort: a cache that cannot be written only costs a download next time.
    try {
      New-Item -ItemType Directory -Force -Path $cache | Out-Null
      Copy-Item -LiteralPath $exe -Destination "$cached.$PID"
      Move-Item -Force -LiteralPath "$cached.$PID" -Destination $cached
    } catch { }
  }
  $bin = $exe
}
# One argument per line in CUSTOMCD_STEP_ARGS, passed on a command line built here: PowerShell's
# own passing of native arguments differs between 5.1 and 7 (empty and quoted values).
$argv = @($env:CUSTOMCD_STEP_ARGS -split "`n")
$info = New-Object System.Diagnostics.ProcessStartInfo
$info.FileName = $bin
$info.Arguments = ($argv | ForEach-Object { Quote-Arg $_ }) -join ' '
$info.UseShellExecute = $false
$proc = [System.Diagnostics.Process]::Start($info)
$proc.WaitForExit()
$rc = $proc.ExitCode
if ($run) { Remove-Item -Recurse -Force -LiteralPath $run -ErrorAction SilentlyContinue }
exit $rc
'''
