'use strict';
// Shared plumbing of the diagnosis services (tests/heap/test_heap_diagnosis.py): not part of
// any leak. `serve(handleBatch)` prints `ready`; each SIGUSR2 runs ONE batch of simulated
// requests (batch size from argv[2]) and then prints ONE JSON line
//   {"batch": k, "leaked": N, "bytes": B}
// where N is the cumulative count of what the service leaks (its own unit) and B their
// approximate cumulative payload bytes, as the service itself counted them. Signals that
// arrive during a batch are queued: one signal, one batch, one line.
//
// Every service also does ordinary, non-leaking work per request: `fakeRequest` makes a
// parsed body that is garbage once handled, and `requestLog` is a bounded access log that
// churns (the last 64 requests: full after the warm-up batch, then a fixed size).

const size = Number(process.argv[2] || 500);

class AccessLog {
  constructor(limit) { this.limit = limit; this.lines = []; }
  record(method, url, status) {
    this.lines.push({ at: Date.now(), method, url, status });
    if (this.lines.length > this.limit) this.lines.splice(0, this.lines.length - this.limit);
  }
}
const requestLog = new AccessLog(64);

// A request as a framework would hand it over: a parsed body that is garbage once handled.
function fakeRequest(batch, i) {
  const body = JSON.parse(JSON.stringify({ user: `u${i % 97}`, n: i, batch, tags: ['a', 'b', String(i)] }));
  return { method: 'POST', url: `/api/v1/items/${batch}/${i}`, headers: { 'x-request-id': `${batch}-${i}` }, body };
}

function serve(handleBatch) {
  let batch = 0;
  let queued = 0;
  let running = false;
  async function runOne() {
    running = true;
    batch += 1;
    const { leaked, bytes } = await handleBatch(size, batch);
    console.log(JSON.stringify({ batch, leaked, bytes: bytes || 0 }));
    running = false;
    if (queued > 0) { queued -= 1; setImmediate(runOne); }
  }
  process.on('SIGUSR2', () => { if (running) queued += 1; else runOne(); });
  process.on('SIGTERM', () => process.exit(0));
  setInterval(() => {}, 1 << 30); // a server's listening socket keeps it alive; this stands in for it
  console.log('ready');
}

module.exports = { serve, fakeRequest, requestLog };
