// A worker that leaks about 10 MB/s, for the memory-limit reaction benchmark (supervisor.sh).
// It appends "<pid> <epoch ms> <what>" lines to $BENCH_RSS_LOG: "start" when it boots, its RSS
// in bytes every 100 ms, and the signal its supervisor stops it with ("SIGTERM"), so the script
// can tell when the limit was crossed and when the supervisor reacted. It listens on $PORT
// because nodeedge counts a worker ready when its port accepts.
'use strict';
const fs = require('fs');
const http = require('http');

const log = process.env.BENCH_RSS_LOG;
const step = 1024 * 1024;          // 1 MiB every 100 ms
const cap = 1024 * 1024 * 1024;    // bounded even if no supervisor ever reacts
const kept = [];

function record(what) {
  fs.appendFileSync(log, `${process.pid} ${Date.now()} ${what}\n`);
}

record('start');
http.createServer((req, res) => res.end('leaking\n'))
  .listen(Number(process.env.PORT || 3000), '127.0.0.1');

setInterval(() => {
  if (kept.length * step < cap) {
    // fill() touches every page: an untouched allocation would not show in RSS.
    kept.push(Buffer.allocUnsafe(step).fill(1));
  }
  record(process.memoryUsage().rss);
}, 100);

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    record(sig);
    process.exit(0);
  });
}
