// Allocations of a known number and size, for sampling heap profile estimates: on SIGUSR2
// it allocates COUNT objects of one kind, keeps them all, and prints "allocated COUNT KIND".
//   node sampled_allocations.js small|large COUNT
// small: {a: i}, a JS object of one in-object field (32 bytes on 64-bit V8 without pointer
// compression, as Node builds it); large: a flat one-byte string of 4080 characters (4096
// bytes: a 16-byte header and the characters), made by copying a Buffer.
'use strict';
const kind = process.argv[2] || 'small';
const count = Number(process.argv[3] || 100000);
const kept = new Array(count).fill(null);  // allocated up front: the array never grows later
const bytes = Buffer.alloc(4080, 'x');

function allocateSmall(n) {
  for (let i = 0; i < n; i++) kept[i] = { a: i };
}

function allocateLarge(n) {
  for (let i = 0; i < n; i++) kept[i] = bytes.latin1Slice(0, 4080);
}

process.on('SIGUSR2', () => {
  setImmediate(() => {
    if (kind === 'large') allocateLarge(count);
    else allocateSmall(count);
    console.log(`allocated ${count} ${kind}`);
  });
});
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
