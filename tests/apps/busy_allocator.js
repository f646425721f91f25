// Allocates and drops small objects all the time (a steady allocation rate for profiles and timelines),
// keeping a few alive in a ring; prints "ready".
globalThis.ring = new Array(1000);
let i = 0;
function churn() {
  for (let j = 0; j < 2000; j++, i++) globalThis.ring[i % 1000] = { i, text: `obj-${i}` };
}
setInterval(churn, 5);
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
