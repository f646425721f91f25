// Writes one capture file of each kind into the directory argv[2], the way Node writes them
// itself: a heap snapshot (v8.writeHeapSnapshot), an allocation timeline (a heap snapshot taken
// while HeapProfiler tracks allocations, over the in-process inspector), a diagnostic report;
// run it with --cpu-prof --heap-prof (and their -dir flags) for the CPU and heap profiles.
// Run with --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR it also signals itself, so Node writes
// a Heap.*.heapsnapshot there the way `kill -USR2` in production does.
// It holds a secret string so redaction can be checked.
const fs = require('fs');
const path = require('path');
const v8 = require('v8');
const inspector = require('inspector');

const dir = process.argv[2];
globalThis.secretHolder = { apiToken: ['SECRET', 'TOKEN', 'a1b2c3'].join('-'), names: ['Array', 'Object'] };

function burn(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}

if (process.execArgv.some((a) => a.startsWith('--heapsnapshot-signal'))) process.kill(process.pid, 'SIGUSR2');
v8.writeHeapSnapshot(path.join(dir, 'plain.heapsnapshot'));
process.report.writeReport(path.join(dir, 'report.json'));

const session = new inspector.Session();
session.connect();
const chunks = [];
session.on('HeapProfiler.addHeapSnapshotChunk', (m) => chunks.push(m.params.chunk));
session.post('HeapProfiler.enable', () => {
  session.post('HeapProfiler.startTrackingHeapObjects', { trackAllocations: true }, () => {
    const made = [];
    for (let i = 0; i < 2000; i++) made.push({ i, s: 'item-' + i });
    globalThis.made = made;
    burn(50);
    session.post('HeapProfiler.stopTrackingHeapObjects', { reportProgress: false }, () => {
      fs.writeFileSync(path.join(dir, 'alloc.heaptimeline'), chunks.join(''));
      session.disconnect();
      burn(100);
      console.log('done');
    });
  });
});
