'use strict';
// GET /grow?mb=N allocates N MiB more and keeps it, so the worker's RSS passes
// max_memory_restart. Buffers are filled so the pages are really resident.
const { serve, sendJson } = require('./serve');

const kept = [];

serve((req, res, url) => {
  if (url.pathname !== '/grow') return false;
  const mb = Number(url.searchParams.get('mb') || 0);
  for (let i = 0; i < mb; i++) kept.push(Buffer.alloc(1 << 20, 1));
  sendJson(res, 200, { pid: process.pid, kept_mb: kept.length, rss: process.memoryUsage().rss });
  return true;
});
