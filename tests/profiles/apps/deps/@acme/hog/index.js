// A fake npm dependency that burns most of the CPU of cpu_workload.js.
'use strict';
function crunch(n) {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += (i * 2654435761) % 1000003;
  return acc;
}
module.exports = { crunch };
