// Pre stage (runs before every step of the job, checkout included): install the verified
// binary and record the job's start with `customcd start`, unless a start is already given.
'use strict';
const lib = require('./lib');

lib.stage(async () => {
  const env = { ...process.env };
  const bin = await lib.setup(env, { outputs: false });
  if ((env.CUSTOMCD_JOB_START_TIME || '').trim() !== '') return 0;
  lib.fileCommand(env, 'GITHUB_STATE', 'customcd_started', '1');
  // `customcd start` never fails a job: it warns when it cannot record.
  return lib.run(bin, ['start'], env);
});
