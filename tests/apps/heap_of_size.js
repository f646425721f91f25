// Holds about MB megabytes of live heap (argv[2], default 50), then idles until SIGTERM.
// argv[3] picks the shape: "objects" (many small linked objects: the costly case for a snapshot),
// "arrays" (few 1 MB arrays of doubles: heap bytes without many heap nodes), and for
// bench/snapshot_overhead.py: "numbers" (boxed heap numbers, 16 bytes each), "strings" (unique 2 KB
// strings), "cons" (concatenated strings), "maps" (one big Map of small entries), "buffers" (1 KB
// Buffers: contents off the JS heap), "closures" (functions each with its own context).
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
  if (shape !== 'objects') {
    const chunk = [];
    for (let j = 0; j < 10000; j++, i++) chunk.push(make(shape, i));
    globalThis.held.push(chunk);
    continue;
  }
  for (let j = 0; j < 10000; j++, i++) {
    prev = { id: i, tag: `node-${i}`, prev };
    if (i % 1000 === 0) globalThis.held.push(prev);

function make(kind, n) {
  switch (kind) {
    case 'numbers': return n + 0.5;
    case 'strings': return `s${n}-`.padEnd(2048, String.fromCharCode(97 + (n % 26)));
    case 'cons': return `a-${n}` + '-'.repeat(20) + `-${n * 7}`;
    case 'maps': { if (!make.map) { make.map = new Map(); globalThis.held.push(make.map); }
      make.map.set(n, { n }); return null; }
    case 'buffers': return Buffer.alloc(1024, n % 251);
    case 'closures': { const v = { n }; return () => v; }
    default: throw new Error(`unknown shape ${kind}`);
  }
}
  }
}
globalThis.held.push(prev);

function make(kind, n) {
  switch (kind) {
    case 'numbers': return n + 0.5;
    case 'strings': return `s${n}-`.padEnd(2048, String.fromCharCode(97 + (n % 26)));
    case 'cons': return `a-${n}` + '-'.repeat(20) + `-${n * 7}`;
    case 'maps': { if (!make.map) { make.map = new Map(); globalThis.held.push(make.map); }
      make.map.set(n, { n }); return null; }
    case 'buffers': return Buffer.alloc(1024, n % 251);
    case 'closures': { const v = { n }; return () => v; }
    default: throw new Error(`unknown shape ${kind}`);
  }
}
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
console.log(`ready ${Math.round(process.memoryUsage().heapUsed / 1048576)}MB heap`);
