'use strict';
// Prints what a request carried after its body: answers {"body", "trailers"} once the
// request has ended (the chunked body's trailer section, as Node parsed it).
const http = require('http');

http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ body, trailers: req.trailers }));
  });
}).listen(process.env.PORT, '127.0.0.1');
