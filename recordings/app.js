// The app the recordings in this folder come from (scripts/make_recordings.py): a little server-like
// process that burns some CPU in a named function and keeps a slow promise for the reply-after-a-timeout
// recording. It prints "ready" once it runs; it stops on SIGTERM.
'use strict';
const kept = [];
function handleRequest(i) {
  let s = 0;
  for (let j = 0; j < 20000; j++) s += Math.sqrt(i + j);
  kept.push({ id: i, at: Date.now() });
  if (kept.length > 5000) kept.shift();
  return s;
}
let i = 0;
setInterval(() => { for (let k = 0; k < 20; k++) handleRequest(i++); }, 2);
globalThis.slowAnswer = (ms) => new Promise((resolve) => setTimeout(() => resolve(ms), ms));
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
