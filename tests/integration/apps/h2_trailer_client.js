'use strict';
// node h2_trailer_client.js URL NAME BODY TRAILER_NAME TRAILER_VALUE
// POSTs BODY over HTTP/2 (TLS, certificate not checked, SNI NAME) without a content-length,
// then sends one trailer field; prints the response body.
const http2 = require('http2');

const [url, name, body, trailerName, trailerValue] = process.argv.slice(2);
const session = http2.connect(url, { servername: name, rejectUnauthorized: false });
session.on('error', (e) => {
  console.error(e.message);
  process.exit(1);
});
const u = new URL(url);
const req = session.request({ ':method': 'POST', ':path': u.pathname, ':authority': name }, { waitForTrailers: true });
req.on('wantTrailers', () => req.sendTrailers({ [trailerName]: trailerValue }));
let out = '';
req.setEncoding('utf8');
req.on('data', (d) => (out += d));
req.on('end', () => {
  console.log(out);
  session.close();
});
req.end(body);
