'use strict';
// GET /slow?ms=N answers after N ms: a request still in flight during a drain or a reload.
const { serve, sendJson, describe } = require('./serve');

serve((req, res, url) => {
  if (url.pathname !== '/slow') return false;
  const ms = Number(url.searchParams.get('ms') || 0);
  setTimeout(() => sendJson(res, 200, { ...describe(req), waited_ms: ms }), ms);
  return true;
});
