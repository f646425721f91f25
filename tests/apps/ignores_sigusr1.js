// A service that handles SIGUSR1 itself, so the signal never opens the inspector
// (what --disable-sigusr1 does on Node 22.14+ / 23.7+, which older Nodes lack).
process.on('SIGUSR1', () => {});
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
