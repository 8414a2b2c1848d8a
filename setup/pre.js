// Pre stage (runs before every step of the job, checkout included): install the verified
// binary and run `customcd start` (it records the job's start), as the Docker action's pre
// stage does.
'use strict';
const lib = require('./lib');

lib.stage(async () => {
  const env = { ...process.env };
  const bin = await lib.setup(env, { outputs: false });
  lib.fileCommand(env, 'GITHUB_STATE', 'customcd_started', '1');
  // `customcd start` never fails a job: it warns when it cannot record.
  return lib.run(bin, ['start'], env);
});
