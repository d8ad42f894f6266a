'use strict';
// Shared by the test apps: listen on PORT as a nodeedge worker does, describe the request in
// JSON (so a test can tell which worker answered and what the proxy forwarded), and stop
// gracefully on SIGTERM the way a well-behaved app does when nodeedge drains it.
const http = require('http');

function describe(req) {
  return {
    pid: process.pid,
    instance: process.env.NODE_APP_INSTANCE ?? null,
    port: Number(process.env.PORT),
    method: req.method,
    url: req.url,
    headers: req.headers,
  };
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// `handle(req, res, url)` returns true when it answered; anything else gets the description.
function serve(handle = () => false) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (!handle(req, res, url)) sendJson(res, 200, describe(req));
  });
  server.listen(Number(process.env.PORT), '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    // Node 18 keeps idle keep-alive sockets open through close(); the proxy's pooled
    // connections would otherwise hold the process until SIGKILL.
    server.closeIdleConnections();
  });
  return server;
}

module.exports = { serve, describe, sendJson };
