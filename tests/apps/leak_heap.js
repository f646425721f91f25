// Leaks JavaScript heap at a controlled rate: `node leak_heap.js BYTES_PER_SECOND [TICK_MS]`.
// Retains strings in a global array; prints `leaked N` (bytes retained so far) on each tick, so a test
// knows the truth. SIGUSR2 frees everything (the figure falls back: hysteresis tests).
const rate = Number(process.argv[2] || 1024 * 1024);
const tick = Number(process.argv[3] || 100);
globalThis.leaked = [];
let total = 0;
setInterval(() => {
  const bytes = Math.round(rate * tick / 1000);
  // Arrays of small numbers: V8 counts 8 bytes per element, and they cannot be deduplicated.
  const chunk = new Array(Math.max(1, Math.round(bytes / 8))).fill(0).map((_, i) => i + 0.5);
  globalThis.leaked.push(chunk);
  total += bytes;
}, tick);
setInterval(() => console.log(`leaked ${total}`), 1000);
process.on('SIGUSR2', () => { globalThis.leaked = []; total = 0; console.log('freed'); });
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
