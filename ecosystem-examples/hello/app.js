'use strict';
// A minimal Express app as nodeedge runs it: the port comes from PORT (nodeedge gives
// instance i the port `port + i`), and NODE_APP_INSTANCE says which instance this is.
const express = require('express');

const app = express();
// nodeedge's proxy sits in front, so req.ip should come from X-Forwarded-For.
app.set('trust proxy', 1);

app.get('/', (req, res) => {
  res.json({
    hello: 'world',
    pid: process.pid,
    instance: process.env.NODE_APP_INSTANCE ?? null,
    request_id: req.get('X-Request-ID') ?? null,
    client_ip: req.ip,
  });
});

app.get('/health', (req, res) => {
  res.json({ status: 'ok' });
});

const port = Number(process.env.PORT || 3000);
const server = app.listen(port, () => {
  console.log(`hello: instance ${process.env.NODE_APP_INSTANCE ?? '-'} listening on ${port}`);
});

// nodeedge drains a worker in the proxy before sending SIGTERM, so closing the server lets
// any request still open finish and then exits.
process.on('SIGTERM', () => {
  console.log('hello: SIGTERM, closing');
  server.close(() => process.exit(0));
});
