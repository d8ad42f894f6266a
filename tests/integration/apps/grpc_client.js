'use strict';
// A gRPC client of the Echo service through nodeedge over TLS + HTTP/2.
//   node grpc_client.js HOST:PORT NAME CA all        each kind of call once; prints their results as JSON
//   node grpc_client.js HOST:PORT NAME CA loop FILE  calls (unary and bidi, alternating) until FILE
//                                                    exists; prints {ok, failed, errors}
// NAME is the TLS server name (the certificate's); CA its PEM file.
const fs = require('fs');
const { grpc, Echo } = require('./grpc_service');

const [target, name, caFile, mode, stopFile] = process.argv.slice(2);
const client = new Echo(target, grpc.credentials.createSsl(fs.readFileSync(caFile)), {
  'grpc.ssl_target_name_override': name,
  'grpc.default_authority': name,
});
const deadline = () => new Date(Date.now() + 10000);

const unary = (text) =>
  new Promise((resolve, reject) =>
    client.Unary({ text, n: 1 }, { deadline: deadline() }, (err, m) => (err ? reject(err) : resolve(m))));

const serverStream = (text, n) =>
  new Promise((resolve, reject) => {
    const got = [];
    const call = client.ServerStream({ text, n }, { deadline: deadline() });
    call.on('data', (m) => got.push(m.n));
    call.on('error', reject);
    call.on('end', () => resolve(got));
  });

const clientStream = (texts) =>
  new Promise((resolve, reject) => {
    const call = client.ClientStream({ deadline: deadline() }, (err, m) => (err ? reject(err) : resolve(m)));
    for (const text of texts) call.write({ text });
    call.end();
  });

// Sends one message, waits for its echo, then the next: both directions stay open together.
const bidi = (texts) =>
  new Promise((resolve, reject) => {
    const got = [];
    const call = client.Bidi({ deadline: deadline() });
    call.on('data', (m) => {
      got.push(m.text);
      if (got.length < texts.length) call.write({ text: texts[got.length], n: got.length });
      else call.end();
    });
    call.on('error', reject);
    call.on('end', () => resolve(got));
    call.write({ text: texts[0], n: 0 });
  });

const fail = (text) =>
  new Promise((resolve) =>
    client.Fail({ text }, { deadline: deadline() }, (err) =>
      resolve({ code: err.code, details: err.details, detail: err.metadata.get('x-detail')[0] || '' })));

async function all() {
  const out = {};
  const u = await unary('hello');
  out.unary = u.text;
  out.pid = u.pid;
  out.server_stream = await serverStream('s', 5);
  out.client_stream = (await clientStream(['a', 'b', 'c'])).text;
  out.bidi = await bidi(['x', 'y', 'z']);
  out.fail = await fail('input');
  return out;
}

async function loop() {
  const result = { ok: 0, failed: 0, errors: {} };
  for (let i = 0; !fs.existsSync(stopFile); i++) {
    try {
      if (i % 2 === 0) await unary('u' + i);
      else if ((await bidi(['a', 'b'])).length !== 2) throw new Error('short bidi');
      result.ok++;
    } catch (e) {
      result.failed++;
      const key = `${e.code} ${e.details || e.message}`;
      result.errors[key] = (result.errors[key] || 0) + 1;
    }
  }
  return result;
}

(mode === 'loop' ? loop() : all()).then(
  (out) => {
    console.log(JSON.stringify(out));
    process.exit(0);
  },
  (err) => {
    console.log(JSON.stringify({ error: `${err.code} ${err.details || err.message}` }));
    process.exit(1);
  });
