// Logs a console message on demand and can block its event loop (for kill-mid-call tests).
globalThis.logMany = (n) => { for (let i = 0; i < n; i++) console.log(`tick ${i}`); return n; };
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
