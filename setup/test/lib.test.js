// The setup action's download-and-verify logic against a file server on 127.0.0.1 serving a
// good and a tampered binary; and the stages (pre.js, main.js, post.js) run as the runner runs
// them, as node processes with the runner's environment, against that server.
// Run: node --test setup/test/   (ci/test-setup-action.sh runs it in .ci/run)
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const lib = require('../lib');
const { pin, format } = require('../pin-sums');

const VERSION = '1.0.0';
const KEY = 'linux-x64';
const FILE = lib.assetName(VERSION, lib.TARGETS[KEY]);
// A stand-in release file: a shell script, so the stage tests can run it and see its arguments.
const GOOD = Buffer.from('#!/bin/sh\necho "fake customcd $*" >> "$FAKE_LOG"\nexit "${FAKE_EXIT:-0}"\n');
const TAMPERED = Buffer.from(GOOD.toString().replace('fake customcd', 'evil customcd'));
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

let server;
let base;
let flaky = 0;
const requests = [];

before(async () => {
  server = http.createServer((req, res) => {
    requests.push(req.url);
    const routes = {
      [`/good/${FILE}`]: GOOD,
      [`/tampered/${FILE}`]: TAMPERED,
      [`/huge/${FILE}`]: Buffer.alloc(4096, 1),
    };
    if (req.url === `/moved/${FILE}`) {
      res.writeHead(302, { Location: `/good/${FILE}` });
      res.end();
    } else if (req.url === `/loop/${FILE}`) {
      res.writeHead(302, { Location: `/loop/${FILE}` });
      res.end();
    } else if (req.url === `/elsewhere/${FILE}`) {
      res.writeHead(302, { Location: 'file:///etc/passwd' });
      res.end();
    } else if (req.url === `/down/${FILE}`) {
      res.writeHead(503);
      res.end('down');
    } else if (req.url === `/flaky/${FILE}`) {
      flaky += 1;
      res.writeHead(flaky % 2 === 1 ? 503 : 200);
      res.end(flaky % 2 === 1 ? 'down' : GOOD);
    } else if (routes[req.url]) {
      res.writeHead(200, { 'Content-Length': routes[req.url].length });
      res.end(routes[req.url]);
    } else {
      res.writeHead(404);
      res.end('no');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

function tmp() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'customcd-setup-test-'));
}

/** A pinned table naming GOOD's sum for every platform, written to DIR/checksums.json. */
function table(dir, url = `${base}/good`, sum = sha(GOOD)) {
  const sums = Object.values(lib.TARGETS)
    .map((t) => `${sum}  ${lib.assetName(VERSION, t)}`)
    .join('\n');
  const file = path.join(dir, 'checksums.json');
  fs.writeFileSync(file, format(pin(sums, VERSION, url)));
  return file;
}

/** The runner's files for one job, in DIR. */
function runnerEnv(dir, extra = {}) {
  for (const f of ['path', 'output', 'state', 'env']) fs.writeFileSync(path.join(dir, f), '');
  return {
    PATH: process.env.PATH,
    RUNNER_TOOL_CACHE: path.join(dir, 'toolcache'),
    RUNNER_TEMP: path.join(dir, 'temp'),
    GITHUB_PATH: path.join(dir, 'path'),
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STATE: path.join(dir, 'state'),
    GITHUB_ENV: path.join(dir, 'env'),
    ...extra,
  };
}

const leftovers = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

test('a good binary is downloaded, checked against the pinned sum, installed and put on PATH', async () => {
  const dir = tmp();
  const env = runnerEnv(dir);
  const bin = await lib.setup(env, { table: table(dir), platform: 'linux', arch: 'x64' });
  assert.equal(bin, path.join(dir, 'toolcache', 'customcd', VERSION, KEY, 'customcd'));
  assert.deepEqual(fs.readFileSync(bin), GOOD);
  assert.equal(fs.statSync(bin).mode & 0o111, 0o111, 'executable');
  assert.equal(fs.readFileSync(env.GITHUB_PATH, 'utf8'), `${path.dirname(bin)}${os.EOL}`);
  assert.match(fs.readFileSync(env.GITHUB_OUTPUT, 'utf8'), new RegExp(`^path=${bin}$`, 'm'));
  assert.match(fs.readFileSync(env.GITHUB_OUTPUT, 'utf8'), /^version=1\.0\.0$/m);
  assert.match(fs.readFileSync(env.GITHUB_STATE, 'utf8'), new RegExp(`^customcd_bin=${bin}$`, 'm'));
  assert.deepEqual(leftovers(path.dirname(bin)), ['customcd'], 'no partial file left');

  // Second run: the cached copy's sum is the pinned one, so nothing is fetched.
  const n = requests.length;
  assert.equal(await lib.setup(runnerEnv(dir), { table: table(dir), platform: 'linux', arch: 'x64' }), bin);
  assert.equal(requests.length, n, 'a verified cached binary is not downloaded again');
});

test('a tampered binary is refused, deleted, and nothing is installed', async () => {
  const dir = tmp();
  const env = runnerEnv(dir);
  await assert.rejects(
    lib.setup(env, { table: table(dir, `${base}/tampered`), platform: 'linux', arch: 'x64' }),
    (e) => {
      assert.ok(e instanceof lib.SetupError);
      assert.match(e.message, new RegExp(`SHA-256 ${sha(TAMPERED)}`));
      assert.match(e.message, new RegExp(`pins ${sha(GOOD)}`));
      assert.match(e.message, /nothing was installed/);
      return true;
    }
  );
  assert.deepEqual(leftovers(path.join(dir, 'toolcache', 'customcd', VERSION, KEY)), []);
  assert.equal(fs.readFileSync(env.GITHUB_PATH, 'utf8'), '', 'PATH untouched');
});

test('release_url points at another server: its file must still have the pinned sum', async () => {
  const dir = tmp();
  const t = table(dir);
  await assert.rejects(
    lib.setup(runnerEnv(dir, { INPUT_RELEASE_URL: `${base}/tampered` }), { table: t, platform: 'linux', arch: 'x64' }),
    /has SHA-256/
  );
  const bin = await lib.setup(runnerEnv(dir, { INPUT_RELEASE_URL: `${base}/moved/` }), { table: t, platform: 'linux', arch: 'x64' });
  assert.deepEqual(fs.readFileSync(bin), GOOD, 'followed the redirect');
  await assert.rejects(
    lib.setup(runnerEnv(dir, { INPUT_RELEASE_URL: 'ftp://example.invalid' }), { table: t, platform: 'linux', arch: 'x64' }),
    /release_url .* must be an http/
  );
});

test('a tampered copy in the tool cache is replaced by a verified download', async () => {
  const dir = tmp();
  const t = table(dir);
  const bin = await lib.setup(runnerEnv(dir), { table: t, platform: 'linux', arch: 'x64' });
  fs.writeFileSync(bin, TAMPERED);
  const n = requests.length;
  await lib.setup(runnerEnv(dir), { table: t, platform: 'linux', arch: 'x64' });
  assert.deepEqual(fs.readFileSync(bin), GOOD);
  assert.equal(requests.length, n + 1);
  // And the post stage's re-check refuses a binary changed after it was installed.
  assert.equal(lib.verified(bin, { table: t, platform: 'linux', arch: 'x64' }), bin);
  fs.writeFileSync(bin, TAMPERED);
  assert.throws(() => lib.verified(bin, { table: t, platform: 'linux', arch: 'x64' }), /changed after this action installed it/);
});

test('HTTP errors, redirect loops, non-http redirects and oversized bodies are refused with the URL', async () => {
  const dir = tmp();
  const p = (sub) => lib.plan(lib.readTable(table(dir, `${base}/${sub}`)), KEY);
  await assert.rejects(lib.install(p('missing'), path.join(dir, 'a')), /HTTP 404 \(no such release file\)/);
  await assert.rejects(lib.install(p('loop'), path.join(dir, 'b')), /more than 5 redirects/);
  await assert.rejects(lib.install(p('elsewhere'), path.join(dir, 'c')), /only http:\/\/ and https:\/\/ are fetched/);
  await assert.rejects(lib.install(p('huge'), path.join(dir, 'd'), { maxBytes: 1000 }), /more than 1000 bytes/);
  await assert.rejects(
    lib.install(lib.plan(lib.readTable(table(dir, 'http://127.0.0.1:1')), KEY), path.join(dir, 'e'), { retryDelaysMs: [1, 1] }),
    /downloading http:\/\/127\.0\.0\.1:1\/.*ECONNREFUSED/
  );
  for (const d of ['a', 'b', 'c', 'd', 'e']) assert.deepEqual(leftovers(path.join(dir, d)), [], `no file left in ${d}`);
});

test('credentials in a release URL are not shown in messages', async () => {
  const dir = tmp();
  const url = `http://user:s3cret@127.0.0.1:${server.address().port}/missing`;
  await assert.rejects(lib.install(lib.plan(lib.readTable(table(dir, url)), KEY), path.join(dir, 'x')), (e) => {
    assert.doesNotMatch(e.message, /s3cret/);
    assert.match(e.message, /HTTP 404/);
    return true;
  });
});

test('the table on main (no sums) is refused: only a release pins what may be installed', () => {
  assert.throws(() => lib.readTable(lib.TABLE), /not a release|no SHA-256 is pinned/);
  const dir = tmp();
  const f = path.join(dir, 'checksums.json');
  const good = JSON.parse(fs.readFileSync(table(dir), 'utf8'));
  fs.writeFileSync(f, JSON.stringify({ ...good, files: { ...good.files, 'win32-x64': { file: 'other.exe', sha256: sha(GOOD) } } }));
  assert.throws(() => lib.readTable(f), /files\.win32-x64\.file must be customcd-1\.0\.0-x86_64-pc-windows-msvc\.exe/);
});

test('every runner platform maps to a release target; others are refused with what exists', () => {
  assert.equal(lib.platformKey('linux', 'arm64'), 'linux-arm64');
  assert.equal(lib.platformKey('darwin', 'arm64'), 'darwin-arm64');
  assert.equal(lib.platformKey('darwin', 'x64'), 'darwin-x64');
  assert.equal(lib.platformKey('win32', 'x64'), 'win32-x64');
  assert.throws(() => lib.platformKey('win32', 'arm64'), /no customcd release is built for this runner \(win32-arm64\)/);
  assert.throws(() => lib.platformKey('freebsd', 'x64'), /Docker action/);
  assert.equal(lib.assetName('1.2.3', lib.TARGETS['win32-x64']), 'customcd-1.2.3-x86_64-pc-windows-msvc.exe');
});

test('pin-sums fills every platform from SHA256SUMS and refuses a missing or malformed line', () => {
  const lines = Object.values(lib.TARGETS).map((t, i) => `${String(i).repeat(64)}  ${lib.assetName('2.0.0', t)}`);
  const t = pin(lines.join('\n') + '\n', '2.0.0', 'https://github.com/o/r/releases/download/v2.0.0/');
  assert.equal(t.url, 'https://github.com/o/r/releases/download/v2.0.0');
  assert.equal(t.files['darwin-arm64'].sha256, '3'.repeat(64));
  assert.throws(() => pin(lines.slice(1).join('\n'), '2.0.0', 'https://x'), /no line for customcd-2\.0\.0-x86_64-unknown-linux-musl/);
  assert.throws(() => pin(lines.join('\n') + '\nnot a sum line', '2.0.0', 'https://x'), /malformed line/);
  assert.throws(() => pin(lines.join('\n'), 'v2', 'https://x'), /not X\.Y\.Z/);
});

// The stages as the runner runs them: node processes sharing the job's files, with GITHUB_STATE
// carried from one stage to the next as STATE_* (what the runner does between pre, main, post).
function stages(dir) {
  const copy = path.join(dir, 'action');
  fs.mkdirSync(copy);
  for (const f of ['lib.js', 'pre.js', 'main.js', 'post.js']) fs.copyFileSync(path.join(__dirname, '..', f), path.join(copy, f));
  table(copy);
  return copy;
}

function runStage(copy, stage, env) {
  const state = Object.fromEntries(
    fs
      .readFileSync(env.GITHUB_STATE, 'utf8')
      .split(/\r?\n/)
      .filter(Boolean)
      .map((l) => [`STATE_${l.slice(0, l.indexOf('='))}`, l.slice(l.indexOf('=') + 1)])
  );
  // Asynchronous: the file server runs in this process and must keep answering.
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(copy, `${stage}.js`)], { env: { ...env, ...state } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('stages: pre installs and starts, main defers with report_at, post runs customcd post', { skip: process.platform === 'win32' }, async () => {
  const dir = tmp();
  const copy = stages(dir);
  const log = path.join(dir, 'calls');
  const env = runnerEnv(dir, { FAKE_LOG: log, INPUT_REPORT_AT: 'job-end' });
  for (const s of ['pre', 'main', 'post']) {
    const r = await runStage(copy, s, env);
    assert.equal(r.status, 0, `${s}: ${r.stdout}${r.stderr}`);
  }
  assert.equal(fs.readFileSync(log, 'utf8'), 'fake customcd start\nfake customcd report\nfake customcd post\n');
});

test('stages: without report_at, main only installs and post runs nothing', { skip: process.platform === 'win32' }, async () => {
  const dir = tmp();
  const copy = stages(dir);
  const log = path.join(dir, 'calls');
  const env = runnerEnv(dir, { FAKE_LOG: log });
  for (const s of ['pre', 'main', 'post']) assert.equal((await runStage(copy, s, env)).status, 0);
  assert.equal(fs.readFileSync(log, 'utf8'), 'fake customcd start\n');
});

test('stages: without a pre stage (a local action), main runs customcd start itself, once', { skip: process.platform === 'win32' }, async () => {
  const dir = tmp();
  const copy = stages(dir);
  const log = path.join(dir, 'calls');
  const local = runnerEnv(dir, { FAKE_LOG: log, INPUT_REPORT_AT: 'job-end' });
  for (const s of ['main', 'post']) assert.equal((await runStage(copy, s, local)).status, 0);
  assert.equal(fs.readFileSync(log, 'utf8'), 'fake customcd start\nfake customcd report\nfake customcd post\n');
});

test('stages: a failing report fails main; a tampered download fails pre with an ::error:: line', { skip: process.platform === 'win32' }, async () => {
  const dir = tmp();
  const copy = stages(dir);
  const env = runnerEnv(dir, { FAKE_LOG: path.join(dir, 'calls'), INPUT_REPORT_AT: 'now', FAKE_EXIT: '3' });
  assert.equal((await runStage(copy, 'pre', env)).status, 3, 'a failing customcd start fails pre');
  const main = await runStage(copy, 'main', { ...env, STATE_customcd_started: '1' });
  assert.equal(main.status, 3);
  const dir2 = tmp();
  const bad = runnerEnv(dir2, { INPUT_RELEASE_URL: `${base}/tampered` });
  const pre = await runStage(copy, 'pre', bad);
  assert.equal(pre.status, 1);
  assert.match(pre.stdout, /^::error title=customcd setup::the file downloaded from .* has SHA-256/m);
});

test('an outage of the release host is retried, then reported as Unavailable; a 404 is not an outage', async () => {
  const dir = tmp();
  const p = (sub) => lib.plan(lib.readTable(table(dir, `${base}/${sub}`)), KEY);
  const fast = { retryDelaysMs: [1, 1] };
  const n = requests.length;
  await assert.rejects(lib.install(p('down'), path.join(dir, 'a'), fast), (e) => e instanceof lib.Unavailable && /HTTP 503/.test(e.message));
  assert.equal(requests.length, n + 3, 'one try and two retries');
  const { bin } = await lib.install(p('flaky'), path.join(dir, 'b'), fast);
  assert.deepEqual(fs.readFileSync(bin), GOOD, 'a 503 then a 200 installs');
  await assert.rejects(lib.install(p('missing'), path.join(dir, 'c'), fast), (e) => !(e instanceof lib.Unavailable));
  await assert.rejects(
    lib.install(lib.plan(lib.readTable(table(dir, 'http://127.0.0.1:1')), KEY), path.join(dir, 'd'), fast),
    (e) => e instanceof lib.Unavailable
  );
  await assert.rejects(lib.install(p('tampered'), path.join(dir, 'e'), fast), (e) => !(e instanceof lib.Unavailable));
});

test('stages: an outage warns and lets the job go on (exit 0), installing and reporting nothing', { skip: process.platform === 'win32' }, async () => {
  const dir = tmp();
  const copy = stages(dir);
  const log = path.join(dir, 'calls');
  const env = runnerEnv(dir, { FAKE_LOG: log, INPUT_REPORT_AT: 'job-end', INPUT_RELEASE_URL: `${base}/down` });
  for (const s of ['pre', 'main', 'post']) {
    const r = await runStage(copy, s, env);
    assert.equal(r.status, 0, `${s}: ${r.stdout}${r.stderr}`);
    if (s !== 'post') assert.match(r.stdout, /^::warning title=customcd not installed::.*HTTP 503.*this job is not reported by this step/m);
  }
  assert.equal(fs.existsSync(log), false, 'customcd never ran');
  assert.deepEqual(leftovers(path.join(dir, 'toolcache', 'customcd', VERSION, KEY)), []);
  assert.equal(fs.readFileSync(env.GITHUB_PATH, 'utf8'), '');
});
