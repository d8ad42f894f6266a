'use strict';
// GET /env?name=NAME answers {"name": NAME, "value": process.env[NAME] or null}: what the
// supervisor put in a worker's environment.
const { serve, sendJson } = require('./serve');

serve((req, res, url) => {
  if (url.pathname !== '/env') return false;
  const name = url.searchParams.get('name') || '';
  sendJson(res, 200, { name, value: process.env[name] ?? null });
  return true;
});
