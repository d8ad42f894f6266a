'use strict';
// Exits 1 on its first FAIL_STARTS starts (counted in the file COUNT_FILE), then serves: an app
// whose database is not up yet when it boots.
const fs = require('fs');
const { serve } = require('./serve');

const file = process.env.COUNT_FILE;
const starts = (fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : 0) + 1;
fs.writeFileSync(file, String(starts));
if (starts <= Number(process.env.FAIL_STARTS || 2)) {
  console.error(`fails_first.js: start ${starts}, the database is not up yet; exiting`);
  process.exit(1);
}
serve();
