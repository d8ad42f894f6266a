// Load client for survive.sh: CONNS keep-alive loops, spread over the URLs given, each sending
// its next request as soon as the previous one is answered (or failed). It records the time of
// every answer; on SIGINT it prints one line the script parses:
//   RESULT total=<answers+failures> failed=<status >= 500 + socket errors> gap_ms=<longest time
//   between two consecutive answers, over all loops together>
// A failure waits 5 ms before the next try, so a refused connection does not spin the CPU; the
// gap is measured between successful answers only, so it is what a client waits at worst.
'use strict';
const http = require('http');

const conns = Number(process.env.CONNS || 8);
const urls = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
let total = 0, failed = 0, last = 0, maxGap = 0;

function answered() {
  const now = performance.now();
  if (last && now - last > maxGap) maxGap = now - last;
  last = now;
}

function loop(url) {
  let settled = false;
  // Exactly one outcome per request, whichever of the events below comes first.
  const settle = (ok) => {
    if (settled) return;
    settled = true;
    total++;
    if (ok) { answered(); setImmediate(loop, url); } else { failed++; setTimeout(loop, 5, url); }
  };
  const req = http.get(url, { agent, timeout: 5000 }, (res) => {
    res.resume();
    res.on('end', () => settle(res.statusCode < 500));
    res.on('error', () => settle(false));
    res.on('aborted', () => settle(false));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => settle(false));
}

for (let i = 0; i < conns; i++) loop(urls[i % urls.length]);
process.on('SIGINT', () => {
  process.stdout.write(`RESULT total=${total} failed=${failed} gap_ms=${maxGap.toFixed(0)}\n`);
  process.exit(0);
});
