// Leaks file descriptors: `node leak_fds.js FDS_PER_SECOND [START]`: opens START at once, then FDS_PER_SECOND
// more each second (/dev/null, kept open). Prints `open N` (descriptors this app opened) after each change;
// SIGUSR2 closes them all.
const fs = require('fs');
const rate = Number(process.argv[2] || 1);
const start = Number(process.argv[3] || 0);
let fds = [];
const open = (n) => { for (let i = 0; i < n; i++) fds.push(fs.openSync('/dev/null', 'r')); console.log(`open ${fds.length}`); };
open(start);
if (rate > 0) setInterval(() => open(rate), 1000);
else setInterval(() => {}, 1000);
process.on('SIGUSR2', () => { for (const fd of fds) fs.closeSync(fd); fds = []; console.log('open 0'); });
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
