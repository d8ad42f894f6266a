'use strict';
// GET /print?tag=T&n=N&size=S writes N lines "T <i> xxx..." (S bytes each, without the
// newline) to stdout and answers once they are written, so a test knows what the log holds.
const { serve, sendJson } = require('./serve');

serve((req, res, url) => {
  if (url.pathname !== '/print') return false;
  const tag = url.searchParams.get('tag') || 'line';
  const n = Number(url.searchParams.get('n') || 1);
  const size = Number(url.searchParams.get('size') || 0);
  for (let i = 0; i < n; i++) {
    const head = `${tag} ${i} `;
    process.stdout.write(head.padEnd(Math.max(size, head.length), 'x') + '\n');
  }
  sendJson(res, 200, { pid: process.pid, printed: n });
  return true;
});
