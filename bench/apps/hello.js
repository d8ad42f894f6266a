// The backend every proxy benchmark puts behind nginx, PM2 and nodeedge: a small fixed body on
// $PORT (PM2 cluster mode shares one port; nodeedge and PM2 fork mode give each worker its own).
// On SIGINT/SIGTERM it stops accepting and exits once in-flight requests are done, as a
// well-behaved app does, so a reload loses requests only where the supervisor gets it wrong.
'use strict';
const http = require('http');

const body = Buffer.from('hello from ' + process.pid + '\n');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65000;  // longer than the proxies' upstream idle timeout
server.listen(Number(process.env.PORT || 3000), '127.0.0.1', () => {
  if (process.send) process.send('ready');
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
