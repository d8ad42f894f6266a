'use strict';
// The same answer whichever worker gives it, so nginx and nodeedge in front of these workers
// can be compared byte for byte: JSON naming the app (APP_NAME), method, URI and body length;
// /big is HTML long enough to compress; a path ending in /missing is a 404. Content-Length is
// set, as Express' res.send does.
const http = require('http');

const name = process.env.APP_NAME || 'app';
http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (path.endsWith('/big')) {
    const html = '<p>' + 'nodeedge and nginx '.repeat(200) + '</p>';
    res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(html) });
    res.end(html);
    return;
  }
  let length = 0;
  req.on('data', (chunk) => { length += chunk.length; });
  req.on('end', () => {
    const json = JSON.stringify({ app: name, method: req.method, uri: req.url, body: length });
    res.writeHead(path.endsWith('/missing') ? 404 : 200,
                  { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
    res.end(json);
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
