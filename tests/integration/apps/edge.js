'use strict';
// For the gzip and cache tests: responses shaped by the query string, and a count of the
// requests each path got, so a test can tell a cached answer from a fresh one.
//   GET .../json?kb=N     N KiB of JSON (Content-Length); with &chunked=1 without a length
//     &cc=VALUE           Cache-Control: VALUE        &cookie=1   a Set-Cookie header
//     &status=N           that status                 &ms=N       answer after N ms
//     &etag=VALUE         ETag: "VALUE"               &type=T     Content-Type T
//   GET /stream?mb=N      N MiB of hex text, chunked, written only as fast as the proxy takes
//                         it; /progress tells {stream_written, stream_done}
//   GET /hits?path=P      {"hits": requests P got}    (not counted itself)
// Every body says which request number of its path it was ("n"), and which pid served it.
const crypto = require('crypto');
const { serve, sendJson } = require('./serve');

const hits = new Map();
const progress = { stream_written: 0, stream_done: false };

function jsonBody(kb, n) {
  const head = `{"n":${n},"pid":${process.pid},"items":[`;
  const items = [];
  let size = head.length + 2;
  for (let i = 0; size < kb * 1024; i++) {
    const item = `{"id":${i},"name":"item ${i % 97}","ok":true}`;
    items.push(item);
    size += item.length + 1;
  }
  return head + items.join(',') + ']}';
}

function json(res, url, n) {
  const q = url.searchParams;
  const headers = { 'Content-Type': q.get('type') || 'application/json' };
  if (q.get('cc')) headers['Cache-Control'] = q.get('cc');
  if (q.get('cookie')) headers['Set-Cookie'] = `session=${n}; Path=/`;
  if (q.get('etag')) headers.ETag = `"${q.get('etag')}"`;
  const body = jsonBody(Number(q.get('kb') || 1), n);
  if (!q.get('chunked')) headers['Content-Length'] = Buffer.byteLength(body);
  const answer = () => {
    res.writeHead(Number(q.get('status') || 200), headers);
    res.end(body);
  };
  const ms = Number(q.get('ms') || 0);
  if (ms > 0) setTimeout(answer, ms);
  else answer();
}

function stream(res, mb) {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  let left = mb * (1 << 20);
  const more = () => {
    while (left > 0) {
      // Random hex: gzip halves it, so the compressed stream is large too.
      const chunk = Buffer.from(crypto.randomBytes(Math.min(left, 64 * 1024) / 2).toString('hex'));
      left -= chunk.length;
      const flowing = res.write(chunk, () => { progress.stream_written += chunk.length; });
      if (!flowing) return res.once('drain', more);
    }
    res.end(() => { progress.stream_done = true; });
  };
  more();
}

serve((req, res, url) => {
  if (url.pathname === '/hits') {
    sendJson(res, 200, { hits: hits.get(url.searchParams.get('path')) || 0 });
    return true;
  }
  if (url.pathname === '/progress') {
    sendJson(res, 200, progress);
    return true;
  }
  const n = (hits.get(url.pathname) || 0) + 1;
  hits.set(url.pathname, n);
  if (url.pathname === '/stream') {
    stream(res, Number(url.searchParams.get('mb') || 1));
    return true;
  }
  if (url.pathname.includes('/json')) {
    json(res, url, n);
    return true;
  }
  if (url.pathname === '/vary' || url.pathname === '/vary-star') {
    // A body per Accept-Encoding, said to vary on it (or on everything).
    res.setHeader('Vary', url.pathname === '/vary' ? 'Accept-Encoding' : '*');
    sendJson(res, 200, { ae: req.headers['accept-encoding'] || '', n });
    return true;
  }
  return false;
});
