'use strict';
// A wait_ready app that keeps count of the requests it got before it said ready: it listens
// at once, but calls process.send('ready') only after READY_DELAY_MS. Every answer carries
// `ready_sent` and `ready_at_ms` (wall clock); GET /early lists what came before ready.
const { serve, sendJson, describe } = require('./serve');

const early = [];
let readyAtMs = 0;

serve((req, res, url) => {
  if (!readyAtMs) early.push(req.url);
  if (url.pathname === '/early') {
    sendJson(res, 200, { pid: process.pid, ready_at_ms: readyAtMs, early });
    return true;
  }
  sendJson(res, 200, { ...describe(req), ready_sent: readyAtMs > 0, ready_at_ms: readyAtMs });
  return true;
});

setTimeout(() => {
  readyAtMs = Date.now();
  process.send('ready');
}, Number(process.env.READY_DELAY_MS || 0));
