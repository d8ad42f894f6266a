'use strict';
// Listens (so it becomes ready), then exits with code 1 after CRASH_AFTER_MS: a worker that
// keeps dying soon after every start, as a crash-looping deploy does.
const { serve } = require('./serve');

serve();
const after = Number(process.env.CRASH_AFTER_MS || 500);
setTimeout(() => {
  console.error(`crash_loop.js: pid ${process.pid} exiting after ${after} ms`);
  process.exit(1);
}, after);
