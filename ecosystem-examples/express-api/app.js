'use strict';
// The reference article's Express API ("Use Case 1: Express API Behind Nginx") as nodeedge
// runs it: several instances on PORT = port + i, nodeedge in front doing what nginx did
// (rate limits on /auth/ and /api/, static files, security headers, request ids).
const express = require('express');
const crypto = require('node:crypto');

const app = express();
// Trust the first proxy (nodeedge), so req.ip is the client from X-Forwarded-For.
app.set('trust proxy', 1);
app.disable('x-powered-by');
app.use(express.json({ limit: '1mb' }));

const instance = process.env.NODE_APP_INSTANCE ?? null;

// Liveness for nodeedge's health_check (and anyone else): cheap, no dependencies.
app.get('/health', (req, res) => {
  res.json({ status: 'ok', instance, uptime_s: Math.round(process.uptime()) });
});

app.get('/ip', (req, res) => {
  res.json({
    ip: req.ip,
    forwarded: req.get('X-Forwarded-For') ?? null,
    request_id: req.get('X-Request-ID') ?? null,
    instance,
  });
});

// ---- /auth/: rate limited by nodeedge to 5 requests a minute per client (burst 3) ----------
// A demo user; a real app checks a password hash in its database.
const USER = { name: 'demo', password: 'demo' };
const sessions = new Map();  // token -> user name (per instance: a demo, not a session store)

app.post('/auth/login', (req, res) => {
  const { username, password } = req.body ?? {};
  if (username !== USER.name || password !== USER.password) {
    res.status(401).json({ error: 'invalid credentials' });
    return;
  }
  const token = crypto.randomBytes(16).toString('hex');
  sessions.set(token, username);
  res.json({ token });
});

app.post('/auth/logout', (req, res) => {
  sessions.delete(String(req.get('Authorization') ?? '').replace(/^Bearer /, ''));
  res.status(204).end();
});

// ---- /api/: rate limited by nodeedge to 30 requests a second per client (burst 50) ---------
const products = [
  { id: 1, name: 'Keyboard', price: 49 },
  { id: 2, name: 'Mouse', price: 19 },
  { id: 3, name: 'Monitor', price: 199 },
];

app.get('/api/products', (req, res) => {
  res.json({ products, instance });
});

app.get('/api/products/:id', (req, res) => {
  const product = products.find((p) => p.id === Number(req.params.id));
  if (!product) {
    res.status(404).json({ error: 'no such product' });
    return;
  }
  res.json(product);
});

app.use((req, res) => {
  res.status(404).json({ error: 'not found', path: req.path });
});

const port = Number(process.env.PORT || 3100);
const server = app.listen(port, '127.0.0.1', () => {
  console.log(`express-api: instance ${instance ?? '-'} listening on ${port}`);
});

// The article's graceful shutdown. nodeedge has already drained this worker in the proxy
// when SIGTERM comes, so closing the server only waits for requests still in flight;
// kill_timeout (ecosystem.toml) is the hard limit after which nodeedge sends SIGKILL.
function shutdown(signal) {
  console.log(`express-api: ${signal}, closing`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
