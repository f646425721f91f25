// Leaks external memory (Buffers outside the V8 heap): `node leak_external.js BYTES_PER_SECOND [TICK_MS]`.
// Prints `leaked N` each second; SIGUSR2 frees everything.
const rate = Number(process.argv[2] || 1024 * 1024);
const tick = Number(process.argv[3] || 100);
globalThis.leaked = [];
let total = 0;
setInterval(() => {
  const bytes = Math.round(rate * tick / 1000);
  globalThis.leaked.push(Buffer.alloc(bytes, 1));  // alloc, not allocUnsafe: the pages are touched (RSS too)
  total += bytes;
}, tick);
setInterval(() => console.log(`leaked ${total}`), 1000);
process.on('SIGUSR2', () => { globalThis.leaked = []; total = 0; console.log('freed'); });
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
