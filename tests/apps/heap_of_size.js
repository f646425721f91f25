// Holds about MB megabytes of live heap (argv[2], default 50), then idles until SIGTERM.
// argv[3] picks the shape: "objects" (many small linked objects: the costly case for a snapshot)
// or "arrays" (few 1 MB arrays of doubles: heap bytes without many heap nodes).
const targetMb = Number(process.argv[2] || 50);
const shape = process.argv[3] || 'objects';
const target = targetMb * 1024 * 1024;
globalThis.held = [];
const baseline = process.memoryUsage().heapUsed;
let prev = null;
let i = 0;
while (process.memoryUsage().heapUsed - baseline < target) {
  if (shape === 'arrays') {
    globalThis.held.push(new Array(131072).fill(i + 0.5));
    i++;
    continue;
  }
  for (let j = 0; j < 10000; j++, i++) {
    prev = { id: i, tag: `node-${i}`, prev };
    if (i % 1000 === 0) globalThis.held.push(prev);
  }
}
globalThis.held.push(prev);
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
console.log(`ready ${Math.round(process.memoryUsage().heapUsed / 1048576)}MB heap`);
