'use strict';
// Large bodies both ways, for tests of slow clients:
//   GET /bulk?mb=N   answers N MiB (Content-Length), writing only as fast as the proxy takes
//                    it (write() false -> wait for 'drain'), so what it has handed to the
//                    kernel shows how much the proxy accepted from it;
//   POST /upload     answers only once the whole body arrived;
//   GET /progress    {bulk_written, bulk_done, bulk_cut, uploads_started, uploads_completed}
//                    (bulk_cut: the proxy closed the connection before the answer ended).
// Every other path gets serve.js's JSON description.
const { serve, sendJson } = require('./serve');

const MiB = 1 << 20;
const chunk = Buffer.alloc(64 * 1024, 'x');
const progress = { bulk_written: 0, bulk_done: false, bulk_cut: false, uploads_started: 0, uploads_completed: 0 };

function bulk(res, mb) {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': mb * MiB });
  let left = mb * MiB;
  res.on('close', () => { if (!res.writableFinished) progress.bulk_cut = true; });
  const more = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      // The callback runs once these bytes left Node for the kernel.
      const flowing = res.write(chunk.subarray(0, n), () => { progress.bulk_written += n; });
      if (!flowing) return res.once('drain', more);
    }
    res.end(() => { progress.bulk_done = true; });
  };
  more();
}

serve((req, res, url) => {
  if (req.method === 'GET' && url.pathname === '/bulk') {
    bulk(res, Number(url.searchParams.get('mb') || 1));
    return true;
  }
  if (req.method === 'POST' && url.pathname === '/upload') {
    progress.uploads_started++;
    let bytes = 0;
    req.on('data', (d) => { bytes += d.length; });
    req.on('end', () => {
      progress.uploads_completed++;
      sendJson(res, 200, { bytes });
    });
    return true;
  }
  if (url.pathname === '/progress') {
    sendJson(res, 200, progress);
    return true;
  }
  return false;
});
