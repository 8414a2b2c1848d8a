// Unit test of the Jenkins step vars/customcdReport.groovy, the JenkinsPipelineUnit way without
// Maven: the step file is parsed with GroovyShell and the pipeline steps it calls (sh, withEnv,
// env, currentBuild, pwd, isUnix, fileExists, error) are stubs on its metaClass. The sh stub runs
// the step's real shell script with /bin/sh, so the download, the cache and the pin check run
// for real, against a `file://` release directory and a fake customcd that records what it got.
//
// usage: groovy ci/jenkins-test/CustomcdReportTest.groovy REPO_ROOT [PATH_TO_STATIC_CUSTOMCD]
//
// The fixtures are binding variables (no `def`), so the helper methods below can see them.

import java.security.MessageDigest

class StepError extends RuntimeException {
    StepError(String message) { super(message) }
}

class ShFailed extends RuntimeException {
    ShFailed(String message) { super(message) }
}

/** One run of the step: its stubs, what they saw, and the record the fake customcd wrote. */
class Run {
    Map env = [:]
    Map build = [currentResult: 'SUCCESS', startTimeInMillis: 1700000000999L]
    boolean unix = true
    String path = '/usr/bin:/bin'
    List<Map> shCalls = []
    /** The powershell step's calls (Windows agents): label, environment, script. */
    List<Map> psCalls = []
    /** The paths fileExists was asked about, as the step wrote them. */
    List<String> existsAsked = []
    List<List<String>> envStack = []
    String output = ''
    File record
}

root = this.args ? this.args[0] : '.'
stepFile = new File(root, 'vars/customcdReport.groovy')
assert stepFile.isFile() : "no step file at ${stepFile}"

work = File.createTempFile('customcd-jenkins-test', '')
work.delete()
work.mkdirs()
version = '1.0.0'
arch = ['uname', '-m'].execute().text.trim() in ['aarch64', 'arm64'] ? 'aarch64' : 'x86_64'
asset = "customcd-${version}-${arch}-unknown-linux-musl"

String sha256(File f) {
    MessageDigest.getInstance('SHA-256').digest(f.bytes).collect { String.format('%02x', it) }.join('')
}

// The fake customcd: records the start variable and its arguments, one per line.
fake = new File(work, 'fake-customcd')
fake.text = '#!/bin/sh\n{ echo "start=${CUSTOMCD_JOB_START_TIME:-}"; for a; do echo "arg=$a"; done; } > "$CUSTOMCD_TEST_RECORD"\n'
fake.setExecutable(true)
pin = sha256(fake)
wrongPin = '0' * 64

// A release directory as the release host lays it out, served through file://.
releases = new File(work, 'releases')
new File(releases, "v${version}").mkdirs()
new File(releases, "v${version}/${asset}").bytes = fake.bytes
new File(releases, "v${version}/SHA256SUMS").text = "${pin}  ${asset}\n"
emptyReleases = new File(work, 'no-releases')
emptyReleases.mkdirs()

counter = 0

/** Runs the step once with `options`; `setup` adjusts the Run (env, build, PATH) first. */
Run runStep(Map options, Closure setup = {}) {
    counter++
    File tmp = new File(work, "ws${counter}@tmp")
    tmp.mkdirs()
    Run r = new Run()
    r.record = new File(work, "record-${counter}")
    r.env = [NODE_NAME: 'linux-1', WORKSPACE_TMP: tmp.path, BUILD_TAG: "jenkins-app-${counter}", CUSTOMCD_TEST_RECORD: r.record.path]
    setup.delegate = r
    setup.resolveStrategy = Closure.DELEGATE_FIRST
    setup.call(r)

    Script step = new GroovyShell().parse(stepFile)
    step.binding = new Binding([env: r.env, currentBuild: r.build])
    step.metaClass.isUnix = { -> r.unix }
    step.metaClass.pwd = { Map m -> m?.tmp ? tmp.path : work.path }
    // A Windows agent's paths use backslashes; this machine's files answer for them.
    step.metaClass.fileExists = { String p -> r.existsAsked << p; new File(r.unix ? p : p.replace('\\', '/')).exists() }
    step.metaClass.error = { String message -> throw new StepError(message) }
    step.metaClass.withEnv = { List<String> vars, Closure body ->
        r.envStack << vars.collect { it as String }
        try { body.call() } finally { r.envStack.remove(r.envStack.size() - 1) }
    }
    step.metaClass.sh = { Map m ->
        Map<String, String> vars = [PATH: r.path, HOME: work.path]
        r.env.each { k, v -> if (v != null) { vars[k as String] = v as String } }
        r.envStack.flatten().each { String kv -> int i = kv.indexOf('='); vars[kv.substring(0, i)] = kv.substring(i + 1) }
        r.shCalls << [label: m.label, env: new LinkedHashMap(vars)]
        File script = new File(work, "sh-${counter}.sh")
        script.text = m.script
        Process p = new ProcessBuilder('/bin/sh', script.path).redirectErrorStream(true).with { pb ->
            pb.environment().clear()
            pb.environment().putAll(vars)
            pb.start()
        }
        r.output += p.inputStream.text
        int code = p.waitFor()
        if (code != 0) { throw new ShFailed("script returned exit code ${code}") }
    }
    // PowerShell does not run here: the stub records what the step hands it (the script text and
    // the environment the script reads).
    step.metaClass.powershell = { Map m ->
        Map<String, String> vars = [:]
        r.env.each { k, v -> if (v != null) { vars[k as String] = v as String } }
        r.envStack.flatten().each { String kv -> int i = kv.indexOf('='); vars[kv.substring(0, i)] = kv.substring(i + 1) }
        r.psCalls << [label: m.label, env: new LinkedHashMap(vars), script: m.script]
    }
    step.invokeMethod('call', [options] as Object[])
    return r
}

/** The arguments the step hands its script, one per line of CUSTOMCD_STEP_ARGS. */
List<String> psArgs(Run r) { (r.psCalls[0].env.CUSTOMCD_STEP_ARGS as String).split('\n', -1) as List }

List<String> recorded(Run r) { r.record.exists() ? r.record.readLines() : [] }
List<String> argsOf(Run r) { recorded(r).findAll { it.startsWith('arg=') }.collect { it.substring(4) } }
String startOf(Run r) { recorded(r).find { it.startsWith('start=') }?.substring(6) }

int failures = 0
int passed = 0
def test = { String name, Closure body ->
    try {
        body.call()
        passed++
        println "ok - ${name}"
    } catch (Throwable t) {
        failures++
        println "not ok - ${name}\n    ${t.toString().readLines().join('\n    ')}"
    }
}
/** Expects the step to throw `type` with a message containing every one of `parts`. */
def fails = { Class type, List<String> parts, Closure body ->
    try {
        body.call()
    } catch (Throwable t) {
        assert type.isInstance(t) : "expected ${type.simpleName}, got ${t}"
        parts.each { assert t.message.contains(it) : "message lacks '${it}': ${t.message}" }
        return t
    }
    assert false : "expected ${type.simpleName}, nothing was thrown"
}

Map released = [releaseUrl: "file://${releases.path}", sha256: pin]

test('one call in post takes the start from currentBuild.startTimeInMillis, in seconds') {
    Run r = runStep(released)
    assert startOf(r) == '1700000000'
    assert argsOf(r) == ['report', '--job-status', 'SUCCESS']
    assert r.shCalls*.label == ['customcd report']
}

test('a start recorded by customcd start wins over the build start') {
    Run r = runStep(released) {
        env.BUILD_TAG = 'jenkins-folder/app-7'
        new File(env.WORKSPACE_TMP as String, 'customcd-start-jenkins-folder_app-7').text = '1600000000\n'
    }
    assert startOf(r) == ''
}

test('CUSTOMCD_JOB_START_TIME set by the pipeline is kept') {
    Run r = runStep(released) { env.CUSTOMCD_JOB_START_TIME = '1234567890' }
    assert startOf(r) == '1234567890'
}

test('jobId, environment, fields and the other options reach the arguments') {
    Run r = runStep(released + [status: 'UNSTABLE', jobType: 'deploy', serviceId: 42, jobId: 'jenkins-app-9-prod',
                                environment: 'production', fields: ['team=pay ments', 'lead_time:duration=20', 'glob=*']])
    assert argsOf(r) == ['report', '--job-status', 'SUCCESS', '--status', 'UNSTABLE', '--job-type', 'deploy', '--service-id', '42',
                         '--job-id', 'jenkins-app-9-prod', '--environment', 'production',
                         '--field', 'team=pay ments', '--field', 'lead_time:duration=20', '--field', 'glob=*']
}

test('failOnError passes each of its values, false included, and is absent by default') {
    assert !argsOf(runStep(released)).any { it.startsWith('--fail-on-error') }
    ['refusal', true, false].each { value ->
        Run r = runStep(released + [failOnError: value])
        assert argsOf(r).contains("--fail-on-error=${value}" as String)
    }
}

test('fields may be one string with one spec per line') {
    Run r = runStep(released + [fields: 'a=1\n\n  b:integer=2  \n'])
    assert argsOf(r).drop(3) == ['--field', 'a=1', '--field', 'b:integer=2']
}

test('currentBuild.currentResult travels as job_status, the status when none is given') {
    Run r = runStep(released) { build.currentResult = 'ABORTED' }
    assert argsOf(r) == ['report', '--job-status', 'ABORTED']
}

test('the build causes reach customcd as JSON in CUSTOMCD_STEP_CAUSES') {
    String causes = '[{"_class":"hudson.model.Cause$UserIdCause","shortDescription":"Started by user Alice","userId":"alice","userName":"Alice"}]'
    Run r = runStep(released) { build.getBuildCauses = { -> causes } }
    assert r.shCalls[0].env.CUSTOMCD_STEP_CAUSES == causes
    Run none = runStep(released)
    assert none.shCalls[0].env.CUSTOMCD_STEP_CAUSES == '[]' : 'a build without readable causes gives an empty list'
}

test('a download is checked against the pin and cached') {
    Run r = runStep(released)
    assert r.output.contains("downloaded ${asset}, sha256 ${pin} verified")
    File cached = new File(r.env.WORKSPACE_TMP as String, "customcd-${version}-${arch}/customcd")
    assert sha256(cached) == pin
}

test('a cached binary that matches the pin runs without a download') {
    Run r = runStep([releaseUrl: "file://${emptyReleases.path}", sha256: pin]) {
        File cache = new File(env.WORKSPACE_TMP as String, "customcd-${version}-${arch}")
        cache.mkdirs()
        new File(cache, 'customcd').bytes = fake.bytes
        new File(cache, 'customcd').setExecutable(true)  // as a real cache is
    }
    assert r.output.contains("using the cached ${asset}, sha256 ${pin} verified")
    assert argsOf(r).first() == 'report'
}

test('a wrong pin fails even when the binary is cached, and nothing runs') {
    Run seen = null
    fails(ShFailed, ['exit code 1']) {
        runStep([releaseUrl: "file://${releases.path}", sha256: wrongPin]) {
            seen = delegate
            File cache = new File(env.WORKSPACE_TMP as String, "customcd-${version}-${arch}")
            cache.mkdirs()
            new File(cache, 'customcd').bytes = fake.bytes
        new File(cache, 'customcd').setExecutable(true)  // as a real cache is
        }
    }
    assert seen.output.contains("checksum mismatch for ${asset}")
    assert !seen.record.exists() : 'the cached binary ran despite the wrong pin'
}

test('a tampered cache is downloaded again and checked') {
    File cacheFile = null
    Run r = runStep(released) {
        File cache = new File(env.WORKSPACE_TMP as String, "customcd-${version}-${arch}")
        cache.mkdirs()
        cacheFile = new File(cache, 'customcd')
        cacheFile.text = '#!/bin/sh\necho tampered > "$CUSTOMCD_TEST_RECORD"\n'
        cacheFile.setExecutable(true)
    }
    assert r.output.contains("the cached ${asset} does not match")
    assert argsOf(r).first() == 'report'
    assert sha256(cacheFile) == pin
}

test('without a pin the binary is checked against the release SHA256SUMS') {
    Run r = runStep([releaseUrl: "file://${releases.path}"])
    assert r.output.contains("sha256 ${pin} verified")
    assert argsOf(r).first() == 'report'
}

test('a customcd on PATH that does not match the pin is not run') {
    File impostorDir = new File(work, 'impostor')
    impostorDir.mkdirs()
    File impostor = new File(impostorDir, 'customcd')
    impostor.text = '#!/bin/sh\necho impostor > "$CUSTOMCD_TEST_RECORD"\n'
    impostor.setExecutable(true)
    Run r = runStep(released) { path = "${impostorDir.path}:/usr/bin:/bin" }
    assert r.output.contains('does not match the sha256 option')
    assert argsOf(r).first() == 'report'
}

test('a Windows agent runs the report through powershell, never sh, with the values in the environment') {
    Run r = runStep(released + [jobType: 'deploy', environment: 'prod']) { unix = false }
    assert r.shCalls.isEmpty()
    assert r.psCalls*.label == ['customcd report']
    assert psArgs(r) == ['report', '--job-status', 'SUCCESS', '--job-type', 'deploy', '--environment', 'prod']
    Map env = r.psCalls[0].env
    assert env.CUSTOMCD_STEP_SHA256 == pin
    assert env.CUSTOMCD_STEP_VERSION == version
    assert env.CUSTOMCD_STEP_TMP == r.env.WORKSPACE_TMP
    assert env.CUSTOMCD_JOB_START_TIME == '1700000000'
    String script = r.psCalls[0].script
    assert script.contains('customcd-$version-x86_64-pc-windows-msvc.exe')
    assert script.contains('Get-FileHash -Algorithm SHA256')
    assert !script.contains(pin) && !script.contains('deploy') : 'a value entered the PowerShell text'
}

test('on Windows, values never enter the PowerShell text') {
    String evil = "'; Remove-Item -Recurse C:\\ #"
    Run r = runStep(released + [jobType: evil, environment: '$(whoami)']) { unix = false }
    assert psArgs(r).containsAll([evil, '$(whoami)'])
    assert !r.psCalls[0].script.contains(evil) && !r.psCalls[0].script.contains('whoami')
}

test('on Windows, a start recorded in WORKSPACE_TMP is looked for with a backslash and wins') {
    Run r = runStep(released) {
        unix = false
        env.BUILD_TAG = 'jenkins-folder/app-7'
        new File(env.WORKSPACE_TMP as String, 'customcd-start-jenkins-folder_app-7').text = '1600000000\n'
    }
    assert r.existsAsked == ["${r.env.WORKSPACE_TMP}\\customcd-start-jenkins-folder_app-7" as String]
    assert !r.psCalls[0].env.containsKey('CUSTOMCD_JOB_START_TIME')
}

test('on Windows without WORKSPACE_TMP the start is looked for in TMP, else TEMP') {
    Run r = runStep(released) { unix = false; env.remove('WORKSPACE_TMP'); env.TEMP = 'C:\\Users\\ci\\Temp' }
    assert r.existsAsked == ["C:\\Users\\ci\\Temp\\customcd-start-${r.env.BUILD_TAG}" as String]
    assert r.psCalls[0].env.CUSTOMCD_JOB_START_TIME == '1700000000'
}

test('on Windows, start: true runs customcd start only') {
    Run r = runStep(released + [start: true]) { unix = false }
    assert psArgs(r) == ['start']
    assert r.psCalls*.label == ['customcd start']
    assert !r.psCalls[0].env.containsKey('CUSTOMCD_JOB_START_TIME')
}

test('outside a node (agent none) is a clear error') {
    fails(StepError, ['agent none', 'stage that has an agent']) {
        runStep(released) { env.remove('NODE_NAME') }
    }
}

test('start: true runs customcd start only') {
    Run r = runStep(released + [start: true])
    assert argsOf(r) == ['start']
    assert r.shCalls*.label == ['customcd start']
    assert !r.shCalls[0].env.containsKey('CUSTOMCD_JOB_START_TIME')
}

test('an unknown option is an error that lists the options') {
    fails(StepError, ['unknown option(s) jobtype', 'jobType']) { runStep(released + [jobtype: 'deploy']) }
}

test('a pin that is not 64 hex digits is an error') {
    fails(StepError, ['sha256', '64 hex digits']) { runStep(released + [sha256: 'abc']) }
}

test('values never enter the shell text') {
    Run r = runStep(released + [jobType: '$(touch pwned)', environment: '`id`'])
    assert argsOf(r).containsAll(['$(touch pwned)', '`id`'])
    assert !new File(work, 'pwned').exists()
}

// With the real static binary (second argument): the step drives customcd itself, as a dry run.
realBin = this.args.length > 1 ? new File(this.args[1]) : null
if (realBin?.canExecute()) {
    File realReleases = new File(work, 'real-releases')
    new File(realReleases, "v${version}").mkdirs()
    new File(realReleases, "v${version}/${asset}").bytes = realBin.bytes
    Map real = [releaseUrl: "file://${realReleases.path}", sha256: sha256(realBin), jobType: 'deploy']
    Closure jenkins = { Run r ->
        r.env.putAll([JENKINS_URL: 'https://jenkins.example.com/', BUILD_TAG: 'jenkins-folder/app 7',
                      GIT_COMMIT: '0123456789abcdef0123456789abcdef01234567', GIT_URL: 'https://github.com/acme/app.git',
                      CUSTOMCD_SERVICE_ID: '42', CUSTOMCD_DRY_RUN: 'true'])
    }

    test('customcd names the person of a UserIdCause and nobody for a timer') {
        Run r = runStep(real) {
            jenkins(delegate)
            build.getBuildCauses = { -> '[{"_class":"hudson.model.Cause$UserIdCause","userId":"alice","userName":"Alice"}]' }
        }
        assert r.output.contains('"triggered_by":"alice"')
        Run t = runStep(real) {
            jenkins(delegate)
            build.getBuildCauses = { -> '[{"_class":"hudson.triggers.TimerTrigger$TimerTriggerCause","shortDescription":"Started by timer"}]' }
        }
        assert !t.output.contains('"triggered_by"')
    }

    test('an aborted build is Failed with ci_result ABORTED') {
        Run r = runStep(real) { jenkins(delegate); build.currentResult = 'ABORTED' }
        assert r.output.contains('"status":"Failed"')
        assert r.output.contains('{"key":"ci_result","value":"ABORTED","type":"string"}')
    }

    test('customcd itself gets the build start from the step, in seconds') {
        Run r = runStep(real) { jenkins(delegate) }
        assert r.output.contains('"job_start_time":1700000000,')
        assert r.output =~ /job_start_time\s+1700000000 .*variable CUSTOMCD_JOB_START_TIME/
        assert r.output.contains('"status":"Succeeded"')
    }

    test('a start recorded by customcdReport(start: true) is found and used by the report') {
        String shared = new File(work, 'shared@tmp').path
        Run started = runStep(real + [start: true]) { jenkins(delegate); env.WORKSPACE_TMP = shared }
        assert started.shCalls*.label == ['customcd start']
        Run r = runStep(real) { jenkins(delegate); env.WORKSPACE_TMP = shared }
        assert !r.shCalls[0].env.containsKey('CUSTOMCD_JOB_START_TIME')
        assert !r.output.contains('"job_start_time":1700000000,')
        assert r.output =~ /job_start_time\s+\d+ .*customcd-start-jenkins-folder_app_7/
    }

    test('the step names a long BUILD_TAG\'s start file as customcd does (cut, tagged, no trailing dot)') {
        String shared = new File(work, 'long@tmp').path
        String tag = 'jenkins-' + ('very/long folder ü ' * 15) + 'app-7.'
        Closure longTag = { Run r -> jenkins(r); r.env.WORKSPACE_TMP = shared; r.env.BUILD_TAG = tag }
        runStep(real + [start: true]) { longTag(delegate) }
        List<String> made = new File(shared).list().findAll { it.startsWith('customcd-start-') } as List
        assert made.size() == 1 && made[0].length() == 'customcd-start-'.length() + 200 : made
        Run r = runStep(real) { longTag(delegate) }
        assert !r.shCalls[0].env.containsKey('CUSTOMCD_JOB_START_TIME') : 'the step did not find the file customcd made'
        assert r.output =~ /job_start_time\s+\d+ .*customcd-start-/
    }
} else {
    println "skip - the real customcd binary (pass its path as the second argument)"
}

work.deleteDir()
println "${passed} passed, ${failures} failed"
System.exit(failures ? 1 : 0)
