'use strict';
// A wait_ready app: tells nodeedge it is ready (process.send('ready')) only after
// READY_DELAY_MS, although its port accepts connections at once.
const { serve } = require('./serve');

serve();
const delay = Number(process.env.READY_DELAY_MS || 0);
setTimeout(() => {
  if (process.send) process.send('ready');
  else console.error('ready.js: no IPC channel; started without wait_ready?');
}, delay);
