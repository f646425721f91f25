// CPU workload for profile tests. Burns CPU in three places for DURATION_MS:
//   - a function inside a fake npm dependency (node_modules/@acme/hog: the most),
//   - a recursive function of the app (fib),
//   - with MODE=grow, an extra hot path (growingHotPath) that the "a" run lacks.
// It is run under `node --cpu-prof`; the app dir is assembled by the test so that
// the dependencies really sit under node_modules/ (which git ignores).
'use strict';
const hog = require('@acme/hog');
const nested = require('plain-dep');

const mode = process.argv[2] || 'base';
const durationMs = Number(process.argv[3] || 1500);

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

function growingHotPath() {
  let acc = 0;
  for (let i = 0; i < 40000; i++) acc += Math.sqrt(i) * Math.sin(i);
  return acc;
}

function mainLoop() {
  const end = Date.now() + durationMs;
  let sink = 0;
  while (Date.now() < end) {
    sink += hog.crunch(40000);       // the heaviest
    sink += fib(22);                   // recursive
    sink += nested.nestedWork(100000);   // innermost node_modules package
    if (mode === 'grow') {
      sink += growingHotPath(); sink += growingHotPath(); sink += growingHotPath();
    }
  }
  return sink;
}

console.log('sink', mainLoop());
