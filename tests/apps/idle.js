// A small idle service: keeps running, holds a little state, exits on SIGTERM.
globalThis.state = { started: Date.now(), items: [] };
for (let i = 0; i < 1000; i++) globalThis.state.items.push({ i, name: `item-${i}` });
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
