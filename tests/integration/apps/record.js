'use strict';
// A backend that records what reaches it, so a test can assert exactly what the proxy
// forwarded: every connection's raw bytes, every request Node's parser read from them
// (method, target, version, header lines, body, whether the body completed) and every parse
// error Node raised. Answers each request with 200 "seen <seq>".
//
// The log is read at GET /log?since=SEQ on RECORD_PORT, a second port the proxy never
// forwards to, so reading it leaves no trace in it. Byte strings (targets, header values,
// bodies, raw bytes) are hex, since they may hold any byte.
const http = require('http');
const net = require('net');
const { Duplex } = require('stream');

const events = [];
let nextSeq = 1;
let nextConn = 1;

const hex = (s) => Buffer.from(s, 'latin1').toString('hex');
const record = (event) => {
  event.seq = nextSeq++;
  events.push(event);
  return event;
};

// Node's HTTP server reads a net.Socket through its native handle, which bypasses 'data'
// listeners; handing it a plain Duplex over the socket lets every byte pass through us first.
function tapped(socket, conn) {
  const duplex = new Duplex({
    read() { socket.resume(); },
    write(chunk, encoding, done) { socket.write(chunk, encoding, done); },
    final(done) { socket.end(done); },
    destroy(err, done) { socket.destroy(); done(err); },
  });
  socket.on('data', (chunk) => {
    record({ type: 'bytes', conn, data: chunk.toString('hex') });
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => duplex.destroy());
  socket.on('error', () => {});
  duplex.conn = conn;
  duplex.remoteAddress = socket.remoteAddress;
  duplex.remotePort = socket.remotePort;
  duplex.setTimeout = (ms, cb) => { socket.setTimeout(ms, cb); return duplex; };
  duplex.setNoDelay = () => duplex;
  duplex.setKeepAlive = () => duplex;
  return duplex;
}

const backend = http.createServer((req, res) => {
  const rawHeaders = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    rawHeaders.push([req.rawHeaders[i], hex(req.rawHeaders[i + 1])]);
  const seen = record({
    type: 'request',
    conn: req.socket.conn,
    method: req.method,
    target: hex(req.url),
    version: req.httpVersion,
    headers: rawHeaders,
    body: '',
    complete: false,
  });
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    seen.body = Buffer.concat(chunks).toString('hex');
    seen.complete = true;
    const text = `seen ${seen.seq}\n`;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  });
});
backend.on('clientError', (err, socket) => {
  record({ type: 'client_error', conn: socket.conn, code: err.code || String(err),
           data: err.rawPacket ? err.rawPacket.toString('hex') : '' });
  socket.destroy();
});

const front = net.createServer((socket) => backend.emit('connection', tapped(socket, nextConn++)));
front.listen(Number(process.env.PORT), '127.0.0.1');

const control = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const since = Number(url.searchParams.get('since') || 0);
  const body = JSON.stringify({ next: nextSeq, events: events.filter((e) => e.seq >= since) });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
});
control.listen(Number(process.env.RECORD_PORT), '127.0.0.1');

process.on('SIGTERM', () => {
  front.close(() => process.exit(0));
  control.close();
  backend.closeIdleConnections();
});
