// Opens argv[2] (default 25) TCP connections to a server of its own on loopback and keeps them,
// as a service leaking upstream connections would; prints "ready <port>" once all are up.
const net = require('net');
const count = Number(process.argv[2] || 25);
const held = [];
const server = net.createServer((socket) => held.push(socket)).listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  let open = 0;
  for (let i = 0; i < count; i++) {
    const client = net.connect(port, '127.0.0.1', () => {
      open += 1;
      if (open === count) console.log(`ready ${port}`);
    });
    held.push(client);
  }
});
process.on('SIGTERM', () => process.exit(0));
