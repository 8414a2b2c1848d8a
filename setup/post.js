// Post stage (after every other step, with the job's final status in INPUT_JOB_STATUS): when
// this step's main stage ran `customcd report`, run `customcd post`, which reports the job if
// that report was deferred to the end of the job (report_at: job-end) and otherwise does nothing.
'use strict';
const lib = require('./lib');

lib.stage(async () => {
  const env = { ...process.env };
  const bin = env.STATE_customcd_bin || '';
  if (env.STATE_customcd_report !== '1' || bin === '') {
    console.log('customcd: nothing to do at the end of the job (this step did not run customcd report)');
    return 0;
  }
  return lib.run(lib.verified(bin), ['post'], env);
});
