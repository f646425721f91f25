// Allocation workload for sampling heap profiles and allocation timelines.
// allocationHotSpot allocates (and keeps) far more than anything else; churn()
// allocates garbage that dies young. Run once and exit (for --heap-prof), or with
// "serve" wait for the inspector to call globalThis.runWorkload() (for timelines).
'use strict';
const kept = [];

function allocationHotSpot(n) {
  for (let i = 0; i < n; i++) kept.push({ id: i, payload: 'x'.repeat(64) + i, list: [i, i + 1, i + 2] });
}

function smallKeeper(n) {
  for (let i = 0; i < n; i++) kept.push([i]);
}

function churn(n) {
  let total = 0;
  for (let i = 0; i < n; i++) total += JSON.stringify({ i }).length;
  return total;
}

function runWorkload(scale = 1) {
  allocationHotSpot(60000 * scale);
  smallKeeper(2000 * scale);
  churn(20000 * scale);
  return kept.length;
}
globalThis.runWorkload = runWorkload;

if (process.argv[2] === 'serve') {
  setInterval(() => {}, 1000);
  process.on('SIGTERM', () => process.exit(0));
  console.log('ready');
} else {
  console.log('kept', runWorkload(Number(process.argv[3] || 1)));
}
