// Writes diagnostic files the way Node does by itself in production, then idles, for `cdpclient pull`.
// Arguments (any of, in order):
//   signal-snapshot      kill -USR2 ourselves: run with --heapsnapshot-signal=SIGUSR2 [--diagnostic-dir=D]
//                        and Node writes Heap.<date>.<time>.<pid>.0.<seq>.heapsnapshot
//   report               process.report.writeReport(): report.<date>.<time>.<pid>.0.<seq>.json into
//                        --report-directory, else the working directory
//   slow-snapshot=S      a real heap snapshot written over S seconds into --diagnostic-dir (or the working
//                        directory) under a Node-style name, the file held open until done: a near-heap-limit
//                        snapshot still being written
//   truncated-snapshot   the first half of a real heap snapshot under a Node-style name, then closed: what a
//                        writer killed mid-file leaves behind
// Prints "ready" once the immediate files are written.
const fs = require('fs');
const path = require('path');
const v8 = require('v8');

const flag = (name) => {
  const hit = [...process.execArgv, ...(process.env.NODE_OPTIONS || '').split(/\s+/)]
    .find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : null;
};
const diagDir = flag('diagnostic-dir') || process.cwd();
let seq = 100;
const pad = (n, w = 2) => String(n).padStart(w, '0');
function nodeName(prefix, ext) {
  const d = new Date();
  const date = `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
  seq += 1;
  return `${prefix}.${date}.${time}.${process.pid}.0.${pad(seq, 3)}.${ext}`;
}

function snapshotBytes() {
  const tmp = path.join(require('os').tmpdir(), `whole-${process.pid}-${seq}.heapsnapshot`);
  v8.writeHeapSnapshot(tmp);
  const data = fs.readFileSync(tmp);
  fs.unlinkSync(tmp);
  return data;
}

globalThis.kept = Array.from({ length: 2000 }, (_, i) => ({ i, label: `item-${i}` }));
const later = [];
for (const arg of process.argv.slice(2)) {
  if (arg === 'signal-snapshot') process.kill(process.pid, 'SIGUSR2');
  else if (arg === 'report') process.report.writeReport();
  else if (arg === 'truncated-snapshot') {
    const data = snapshotBytes();
    fs.writeFileSync(path.join(diagDir, nodeName('Heap', 'heapsnapshot')), data.subarray(0, data.length >> 1));
  } else if (arg.startsWith('slow-snapshot=')) later.push(Number(arg.split('=')[1]));
}

// The signal's snapshot is written on the main thread after this tick: say ready once it is there.
setTimeout(() => {
  console.log('ready');
  for (const seconds of later) {
    const data = snapshotBytes();
    const fd = fs.openSync(path.join(diagDir, nodeName('Heap', 'heapsnapshot')), 'w', 0o600);
    const steps = 20;
    const step = Math.ceil(data.length / steps);
    let at = 0;
    const timer = setInterval(() => {
      fs.writeSync(fd, data, at, Math.min(step, data.length - at));
      at += step;
      if (at >= data.length) {
        clearInterval(timer);
        fs.closeSync(fd);
        console.log('slow snapshot done');
      }
    }, (seconds * 1000) / steps);
  }
}, 200);
setInterval(() => {}, 1 << 30);
