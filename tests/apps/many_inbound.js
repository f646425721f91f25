// Two servers of its own and argv[2] / argv[3] (default 12 / 5) TCP connections from this process to each,
// kept open: a service's inbound connections on two ports and its outbound ones to two peers.
// Server A listens on 127.0.0.1, server B on 0.0.0.0 (accepted sockets then have a local address other
// than the listener's). Prints "ready <portA> <portB>" once every connection is up on both ends.
const net = require('net');
const counts = [Number(process.argv[2] || 12), Number(process.argv[3] || 5)];
const held = [];
let accepted = 0, connected = 0;
const total = counts[0] + counts[1];
const done = () => { if (accepted === total && connected === total) console.log(`ready ${ports.join(' ')}`); };
const ports = [];
const servers = ['127.0.0.1', '0.0.0.0'].map(() => net.createServer((s) => { held.push(s); accepted += 1; done(); }));
let listening = 0;
servers.forEach((server, i) => server.listen(0, i === 0 ? '127.0.0.1' : '0.0.0.0', () => {
  ports[i] = server.address().port;
  if (++listening < servers.length) return;
  servers.forEach((_, j) => {
    for (let k = 0; k < counts[j]; k++) held.push(net.connect(ports[j], '127.0.0.1', () => { connected += 1; done(); }));
  });
}));
process.on('SIGTERM', () => process.exit(0));
