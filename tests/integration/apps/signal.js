'use strict';
// Serves like echo and writes one line per SIGUSR2 it receives, naming its pid, so a test can
// tell which workers `sendSignal` reached.
const { serve } = require('./serve');

process.on('SIGUSR2', () => console.log(`got SIGUSR2 in ${process.pid}`));
serve();
