// A service that knows what it leaks: on SIGUSR2 it leaks exactly COUNT objects of one
// shape, PER_TICK every 20 ms, and then prints "leaked COUNT SHAPE". Meanwhile it keeps
// churning short-lived garbage, as a service handling requests does, and before the
// signal it already holds some objects of the same shape (they must not count as
// allocated during a recording that starts later).
//   node timeline_leak.js records|closures COUNT PER_TICK
'use strict';
const shape = process.argv[2] || 'records';
const count = Number(process.argv[3] || 3000);
const perTick = Number(process.argv[4] || 100);

class LeakRecord {
  constructor(i) {
    this.id = i;
    this.path = '/orders/' + i;
    this.at = Date.now();
  }
}

const records = [];            // shape "records": request records kept forever
const handlers = new Map();    // shape "closures": a closure per key, never removed
globalThis.leakedRecords = records;
globalThis.leakedHandlers = handlers;

function leakOne(i) {
  if (shape === 'closures') {
    const seen = i * 2;
    handlers.set('h' + i, () => seen);
  } else {
    records.push(new LeakRecord(i));
  }
}

for (let i = 0; i < 300; i++) leakOne(-1 - i);  // held before any recording

let sink = 0;
setInterval(() => {  // garbage that dies young
  for (let i = 0; i < 200; i++) sink += JSON.stringify({ i, t: Date.now() }).length;
}, 10);

let leaking = false;
process.on('SIGUSR2', () => {
  if (leaking) return;
  leaking = true;
  let done = 0;
  const tick = setInterval(() => {
    for (let k = 0; k < perTick && done < count; k++) leakOne(done++);
    if (done >= count) {
      clearInterval(tick);
      console.log(`leaked ${done} ${shape}`);
    }
  }, 20);
});
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
