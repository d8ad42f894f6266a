'use strict';
// Answers every path with a JSON description of the request; POST /echo streams the body back.
const { serve } = require('./serve');

serve((req, res, url) => {
  if (req.method !== 'POST' || url.pathname !== '/echo') return false;
  const headers = { 'Content-Type': req.headers['content-type'] || 'application/octet-stream' };
  if (req.headers['content-length'] !== undefined) headers['Content-Length'] = req.headers['content-length'];
  res.writeHead(200, headers);
  req.pipe(res);
  return true;
});
