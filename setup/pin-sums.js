#!/usr/bin/env node
// The release's step that pins the setup action to the binaries it just built:
//   node setup/pin-sums.js SHA256SUMS VERSION URL
// rewrites setup/checksums.json with VERSION, URL (where the release's files are downloaded
// from) and, for each runner platform, the file name and the sum SHA256SUMS gives for it.
// Refuses (exit 1, nothing written) when SHA256SUMS lacks a platform's file or has a malformed
// line, so a release never ships a setup action that cannot install on one of its runners.
'use strict';
const fs = require('node:fs');
const lib = require('./lib');

function pin(sumsText, version, url) {
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new lib.SetupError(`version ${JSON.stringify(version)} is not X.Y.Z`);
  if (!/^https?:\/\/\S+$/.test(url)) throw new lib.SetupError(`url ${JSON.stringify(url)} is not an http(s) URL`);
  const sums = new Map();
  for (const line of sumsText.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const m = /^([0-9a-f]{64}) [ *](\S+)$/.exec(line);
    if (!m) throw new lib.SetupError(`SHA256SUMS: malformed line ${JSON.stringify(line)}`);
    sums.set(m[2], m[1]);
  }
  const files = {};
  for (const [key, target] of Object.entries(lib.TARGETS)) {
    const file = lib.assetName(version, target);
    if (!sums.has(file)) throw new lib.SetupError(`SHA256SUMS has no line for ${file} (${key})`);
    files[key] = { file, sha256: sums.get(file) };
  }
  return { version, url: url.replace(/\/+$/, ''), files };
}

function format(table) {
  const rows = Object.entries(table.files).map(
    ([key, e]) => `    ${JSON.stringify(key)}: { "file": ${JSON.stringify(e.file)}, "sha256": ${JSON.stringify(e.sha256)} }`
  );
  return `{\n  "version": ${JSON.stringify(table.version)},\n  "url": ${JSON.stringify(table.url)},\n  "files": {\n${rows.join(',\n')}\n  }\n}\n`;
}

module.exports = { pin, format };

if (require.main === module) {
  const [sumsFile, version, url] = process.argv.slice(2);
  if (!url) {
    console.error('usage: node setup/pin-sums.js SHA256SUMS VERSION URL');
    process.exit(2);
  }
  try {
    const table = pin(fs.readFileSync(sumsFile, 'utf8'), version, url);
    fs.writeFileSync(lib.TABLE, format(table));
    lib.readTable(lib.TABLE);
    console.log(`pinned ${lib.TABLE}: customcd ${version} from ${table.url}`);
  } catch (e) {
    console.error(`pin-sums: ${e.message}`);
    process.exit(1);
  }
}
