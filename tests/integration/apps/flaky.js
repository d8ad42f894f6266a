'use strict';
// For retry tests: instance 0 reads a request to .../flaky whole and closes the connection
// without answering (the failure nginx's `proxy_next_upstream error` retries only for
// idempotent methods); every other instance and path answers with serve.js's description.
// GET /dropped (on a worker's own port) -> {"dropped": N} requests instance 0 closed on.
const { serve, sendJson } = require('./serve');

let dropped = 0;

serve((req, res, url) => {
  if (url.pathname === '/dropped') {
    sendJson(res, 200, { dropped });
    return true;
  }
  if (!url.pathname.endsWith('/flaky') || process.env.NODE_APP_INSTANCE !== '0') return false;
  req.resume();
  req.on('end', () => {
    dropped++;
    req.socket.destroy();
  });
  return true;
});
