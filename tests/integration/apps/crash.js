'use strict';
// CRASH_AT_START=1: dies before listening (a worker that can never become ready).
// GET /crash: dies mid-life (a worker the supervisor must replace).
const { serve } = require('./serve');

if (process.env.CRASH_AT_START === '1') {
  console.error('crash.js: CRASH_AT_START=1, exiting');
  process.exit(1);
}

serve((req, res, url) => {
  if (url.pathname !== '/crash') return false;
  console.error(`crash.js: /crash requested, pid ${process.pid} exiting`);
  process.exit(1);
});
