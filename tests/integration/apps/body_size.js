'use strict';
// Reads a POST or PUT body whole and answers with its length (and the request's description),
// so a test sees how much of an upload came through the proxy.
const { serve, describe, sendJson } = require('./serve');

serve((req, res) => {
  if (req.method !== 'POST' && req.method !== 'PUT') return false;
  let bytes = 0;
  req.on('data', (chunk) => { bytes += chunk.length; });
  req.on('end', () => sendJson(res, 200, { ...describe(req), bytes }));
  return true;
});
