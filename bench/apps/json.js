// The backend of bench/edge.sh: an 8 KiB JSON document (compressible, as API answers are) on
// $PORT, the same body every time. Stops gracefully on SIGINT/SIGTERM like hello.js.
'use strict';
const http = require('http');

const items = [];
for (let i = 0; i < 150; i++) items.push({ id: i, name: `item ${i}`, price: (i * 7919) % 1000, ok: i % 3 === 0 });
const body = Buffer.from(JSON.stringify({ items }));
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.env.PORT || 3000), '127.0.0.1', () => {
  if (process.send) process.send('ready');
});
function shutdown() {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
