'use strict';
// A socket.io server as nodeedge runs it: several instances, each on its own PORT, behind
// ip_hash so that every long-polling request of a session reaches the instance that holds it.
const http = require('node:http');
const { Server } = require('socket.io');

const instance = process.env.NODE_APP_INSTANCE ?? '-';

const httpServer = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', instance }));
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found\n');
});

// Both transports stay enabled (the default): clients start with long-polling and upgrade to
// WebSocket when they can, or are told to use one of them.
const io = new Server(httpServer);

io.on('connection', (socket) => {
  // The proxy appends the client's address to X-Forwarded-For; the TCP peer is nodeedge.
  const client = socket.handshake.headers['x-forwarded-for'] ?? socket.handshake.address;
  socket.emit('welcome', {
    instance,
    pid: process.pid,
    transport: socket.conn.transport.name,
    client,
  });

  socket.on('echo', (payload, ack) => {
    if (typeof ack === 'function') ack({ instance, payload });
  });

  // Without a shared adapter (e.g. @socket.io/redis-adapter) a broadcast reaches only the
  // clients of this instance.
  socket.on('chat', (text) => {
    io.emit('chat', { from: socket.id, text: String(text).slice(0, 500), instance });
  });
});

const port = Number(process.env.PORT || 3300);
httpServer.listen(port, '127.0.0.1', () => {
  console.log(`socketio: instance ${instance} listening on ${port}`);
});

// nodeedge drains the worker first; closing socket.io disconnects the remaining clients,
// which reconnect through the proxy to another instance.
process.on('SIGTERM', () => {
  console.log('socketio: SIGTERM, closing');
  io.close(() => process.exit(0));
});
