// Main stage: put the verified binary on PATH (installing it if the pre stage did not run, as
// for a local `uses: ./setup`), and with `report_at` given, run `customcd report` here: with
// job-end it only records that this step's post stage must report the job.
'use strict';
const lib = require('./lib');

lib.stage(async () => {
  const env = { ...process.env };
  const bin = await lib.setup(env, { outputs: true });
  // No pre stage ran (a local `uses: ./setup` has none): start here.
  if ((env.STATE_customcd_started || '') === '') {
    lib.fileCommand(env, 'GITHUB_STATE', 'customcd_started', '1');
    const code = lib.run(bin, ['start'], env);
    if (code !== 0) return code;
  }
  if ((env.INPUT_REPORT_AT || '').trim() === '') return 0;
  // Written before the report runs, so that a main stage that deferred and then died still
  // leaves its post stage the word to look.
  lib.fileCommand(env, 'GITHUB_STATE', 'customcd_report', '1');
  return lib.run(bin, ['report'], env);
});
