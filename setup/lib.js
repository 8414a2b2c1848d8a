// The setup action's logic, with node's built-ins only (no node_modules to vendor or audit):
// which release file fits this runner, where it comes from, downloading it with its SHA-256
// checked against the sum pinned in checksums.json, installing it, and the runner's file
// commands (GITHUB_PATH, GITHUB_OUTPUT, GITHUB_STATE). pre.js, main.js and post.js are the three
// stages; test/lib.test.js runs this module against a file server on 127.0.0.1.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

/** The pinned table: version, where the release's files are, one file and sum per platform. */
const TABLE = path.join(__dirname, 'checksums.json');

/** The runner platforms a release builds for: node's process.platform-process.arch -> Rust target. */
const TARGETS = {
  'linux-x64': 'x86_64-unknown-linux-musl',
  'linux-arm64': 'aarch64-unknown-linux-musl',
  'darwin-x64': 'x86_64-apple-darwin',
  'darwin-arm64': 'aarch64-apple-darwin',
  'win32-x64': 'x86_64-pc-windows-msvc',
};

/** A release file is a few MiB; anything far larger is not ours and is not read to the end. */
const MAX_BYTES = 64 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const SHA256 = /^[0-9a-f]{64}$/;

class SetupError extends Error {}

/**
 * The release host could not be reached or answered with a server error: an outage, not a
 * wrong or altered file. The stages turn it into a warning (the job goes on, unreported) instead
 * of failing the deploy job: customcd never breaks a pipeline for an outage.
 */
class Unavailable extends SetupError {}

/** The release file name for VERSION on TARGET, as release.yml names it. */
function assetName(version, target) {
  return `customcd-${version}-${target}${target.includes('windows') ? '.exe' : ''}`;
}

/** The platform key for this runner (or the given platform/arch), refused when no release fits. */
function platformKey(platform = process.platform, arch = process.arch) {
  const key = `${platform}-${arch}`;
  if (!TARGETS[key]) {
    throw new SetupError(
      `no customcd release is built for this runner (${key}); releases exist for ${Object.keys(TARGETS).join(', ')}. ` +
        'Use the Docker action on a Linux runner, or build customcd from source (cargo install --path .)'
    );
  }
  return key;
}

/**
 * Reads and checks the pinned table. A table whose sums are not filled in (the form on main,
 * between releases) is refused: the action only installs bytes whose sum its own commit pins.
 */
function readTable(file = TABLE) {
  let table;
  try {
    table = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SetupError(`cannot read the pinned checksums ${file}: ${e.message}`);
  }
  if (typeof table.version !== 'string' || !/^\d+\.\d+\.\d+/.test(table.version)) {
    throw new SetupError(`${file}: version is ${JSON.stringify(table.version)}, not a release version`);
  }
  if (typeof table.url !== 'string' || !/^https?:\/\//.test(table.url)) {
    throw new SetupError(`${file}: url is ${JSON.stringify(table.url)}, not an http(s) URL`);
  }
  for (const key of Object.keys(TARGETS)) {
    const entry = (table.files || {})[key];
    const want = assetName(table.version, TARGETS[key]);
    if (!entry || entry.file !== want) {
      throw new SetupError(`${file}: files.${key}.file must be ${want}`);
    }
    if (!SHA256.test(entry.sha256 || '')) {
      throw new SetupError(
        `${file}: no SHA-256 is pinned for ${key} (${JSON.stringify(entry.sha256)}): this commit of the action is not a release. ` +
          'Use a released tag or commit (uses: OWNER/customcd-action/setup@v1), whose checksums.json the release filled in'
      );
    }
  }
  return table;
}

/** What to fetch for this runner: file name, its pinned sum and its URL (under BASE if given). */
function plan(table, key, base = '') {
  const entry = table.files[key];
  const prefix = (base || table.url).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(prefix)) {
    throw new SetupError(`release_url is ${JSON.stringify(base)}: it must be an http:// or https:// URL`);
  }
  return { version: table.version, key, file: entry.file, sha256: entry.sha256, url: `${prefix}/${entry.file}` };
}

/** SHA-256 of a file, hex. */
function sha256File(file) {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 16);
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Redacts user:password@ from a URL for messages. */
function shown(url) {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Downloads URL into DEST (created exclusively), following redirects, hashing as it writes.
 * Resolves to the hex SHA-256 of what was written; rejects on any HTTP status but 200, a body
 * over maxBytes, a stall of TIMEOUT_MS, or a redirect to anything but http(s).
 */
function download(url, dest, { timeoutMs = 60000, redirects = MAX_REDIRECTS, maxBytes = MAX_BYTES } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const client = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!client) {
      reject(new SetupError(`cannot download ${shown(url)}: only http:// and https:// are fetched`));
      return;
    }
    const req = client.get(u, { headers: { 'User-Agent': 'customcd-setup-action' }, timeout: timeoutMs }, (res) => {
      const status = res.statusCode || 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        if (redirects <= 0) {
          reject(new SetupError(`downloading ${shown(url)}: more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        const next = new URL(res.headers.location, u).toString();
        download(next, dest, { timeoutMs, redirects: redirects - 1, maxBytes }).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        const msg = `downloading ${shown(url)}: HTTP ${status}${status === 404 ? ' (no such release file)' : ''}`;
        reject(status >= 500 || status === 429 ? new Unavailable(msg) : new SetupError(msg));
        return;
      }
      const hash = crypto.createHash('sha256');
      let size = 0;
      let out;
      try {
        out = fs.createWriteStream(dest, { flags: 'wx', mode: 0o700 });
      } catch (e) {
        res.resume();
        reject(e);
        return;
      }
      let settled = false;
      const fail = (e) => {
        // Destroying the response emits 'aborted' at once: only the first reason counts.
        if (settled) return;
        settled = true;
        res.destroy();
        // The file is removed once its descriptor is closed: the stream opens it asynchronously,
        // so removing it earlier could leave the file the pending open creates.
        const done = () => {
          fs.rmSync(dest, { force: true });
          reject(e);
        };
        if (out.closed) done();
        else {
          out.once('close', done);
          out.destroy();
        }
      };
      out.on('error', fail);
      res.on('error', (e) => fail(new Unavailable(`downloading ${shown(url)}: ${e.message}`)));
      res.on('aborted', () => fail(new Unavailable(`downloading ${shown(url)}: the connection closed mid-file`)));
      res.on('data', (chunk) => {
        size += chunk.length;
        if (size > maxBytes) {
          fail(new SetupError(`downloading ${shown(url)}: more than ${maxBytes} bytes; not a customcd release file`));
          return;
        }
        hash.update(chunk);
        out.write(chunk);
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        // Resolve on 'close', not on end()'s 'finish': until the descriptor is closed, running
        // the file fails with ETXTBSY (seen under load: 1 run in 60).
        out.on('close', () => resolve(hash.digest('hex')));
        out.end();
      });
    });
    req.on('timeout', () => req.destroy(new Unavailable(`downloading ${shown(url)}: no answer for ${timeoutMs / 1000} s`)));
    req.on('error', (e) => reject(e instanceof SetupError ? e : new Unavailable(`downloading ${shown(url)}: ${e.message}`)));
  });
}

/** Where the binary goes: the runner's tool cache (kept between jobs on self-hosted runners), else its temp dir. */
function installDir(env, p) {
  const root = env.RUNNER_TOOL_CACHE || env.RUNNER_TEMP || os.tmpdir();
  return path.join(root, 'customcd', p.version, p.key);
}

/**
 * Installs the planned file into DIR: an existing copy is used only when its SHA-256 is the
 * pinned one; otherwise the file is downloaded beside it, checked, and renamed into place. A
 * download whose sum differs is deleted and refused, naming both sums. Returns the binary's path.
 */
async function install(p, dir, opts = {}) {
  const bin = path.join(dir, p.key.startsWith('win32') ? 'customcd.exe' : 'customcd');
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (fs.existsSync(bin)) {
    const st = fs.lstatSync(bin);
    if (st.isFile() && sha256File(bin) === p.sha256) {
      return { bin, cached: true };
    }
    fs.rmSync(bin, { force: true });
  }
  const tmp = path.join(dir, `.${path.basename(bin)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.part`);
  let got;
  // An outage gets two more tries, 2 s and 4 s later (retryDelayMs for the tests); a wrong or
  // altered file gets none.
  const delays = opts.retryDelaysMs || [2000, 4000];
  for (let attempt = 0; ; attempt++) {
    try {
      got = await download(p.url, tmp, opts);
      break;
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      if (!(e instanceof Unavailable) || attempt >= delays.length) throw e;
      console.log(`::warning title=customcd setup::${e.message}; trying again in ${delays[attempt] / 1000} s`);
      await new Promise((r) => setTimeout(r, delays[attempt]));
    }
  }
  if (got !== p.sha256) {
    fs.rmSync(tmp, { force: true });
    throw new SetupError(
      `the file downloaded from ${shown(p.url)} has SHA-256 ${got}, but this action pins ${p.sha256} for ${p.file}; ` +
        'it was deleted and nothing was installed. The download was altered or is not that release: check release_url and the release assets'
    );
  }
  fs.chmodSync(tmp, 0o755);
  fs.renameSync(tmp, bin);
  return { bin, cached: false };
}

/** Appends NAME=VALUE to the runner's file command FILE_VAR (GITHUB_OUTPUT, GITHUB_STATE, ...). */
function fileCommand(env, fileVar, name, value) {
  const file = env[fileVar];
  if (!file) return false;
  if (/[\r\n]/.test(value)) throw new SetupError(`${name}: a value with a line break cannot be written to ${fileVar}`);
  fs.appendFileSync(file, `${name}=${value}${os.EOL}`);
  return true;
}

/** Adds DIR to PATH for later steps (GITHUB_PATH) and for this process's children. */
function addPath(env, dir) {
  if (env.GITHUB_PATH) fs.appendFileSync(env.GITHUB_PATH, `${dir}${os.EOL}`);
  env.PATH = `${dir}${path.delimiter}${env.PATH || ''}`;
}

/** Runs the binary with ARGS, output to the job log (workflow commands included); its exit code. */
function run(bin, args, env) {
  const r = spawnSync(bin, args, { stdio: 'inherit', env });
  if (r.error) throw new SetupError(`cannot run ${bin}: ${r.error.message}`);
  return r.status === null ? 1 : r.status;
}

/** Locate or install the binary for this runner, put it on PATH, set the outputs. */
async function setup(env = process.env, { table = TABLE, platform, arch, outputs = true, download: opts } = {}) {
  const t = readTable(table);
  const p = plan(t, platformKey(platform, arch), (env.INPUT_RELEASE_URL || '').trim());
  const dir = installDir(env, p);
  const { bin, cached } = await install(p, dir, opts);
  addPath(env, dir);
  if (outputs) {
    fileCommand(env, 'GITHUB_OUTPUT', 'path', bin);
    fileCommand(env, 'GITHUB_OUTPUT', 'version', p.version);
  }
  fileCommand(env, 'GITHUB_STATE', 'customcd_bin', bin);
  console.log(`customcd ${p.version} for ${p.key}: ${cached ? 'found in' : 'downloaded to'} ${bin}, SHA-256 ${p.sha256} as pinned`);
  return bin;
}

/**
 * The binary an earlier stage installed, checked again against the pinned sum before it runs
 * (the tool cache is a directory other steps can write to).
 */
function verified(bin, { table = TABLE, platform, arch } = {}) {
  const p = plan(readTable(table), platformKey(platform, arch));
  const got = fs.existsSync(bin) && fs.lstatSync(bin).isFile() ? sha256File(bin) : '(missing)';
  if (got !== p.sha256) {
    throw new SetupError(`${bin} has SHA-256 ${got}, not the pinned ${p.sha256}: it changed after this action installed it, so it is not run`);
  }
  return bin;
}

const escape = (msg) => msg.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

/**
 * Runs a stage: errors become a ::error:: line and exit code 1, except an outage of the release
 * host, which is a ::warning:: saying what it costs, and exit code 0 (the deploy goes on).
 */
function stage(fn) {
  Promise.resolve()
    .then(fn)
    .then((code) => {
      process.exitCode = code || 0;
    })
    .catch((e) => {
      if (e instanceof Unavailable) {
        console.log(
          `::warning title=customcd not installed::${escape(
            `${e.message}. The release host is unavailable, so customcd is not installed and this job is not reported by this step; the job goes on. Report it later with customcd report or customcd backfill`
          )}`
        );
        process.exitCode = 0;
        return;
      }
      const msg = e instanceof SetupError ? e.message : `${e.stack || e}`;
      console.log(`::error title=customcd setup::${escape(msg)}`);
      process.exitCode = 1;
    });
}

module.exports = {
  SetupError,
  Unavailable,
  TARGETS,
  TABLE,
  assetName,
  platformKey,
  readTable,
  plan,
  sha256File,
  download,
  installDir,
  install,
  fileCommand,
  addPath,
  run,
  setup,
  verified,
  stage,
};
