// cdpclient demo service: a tiny order API with two leaks modelled on real incidents.
//
// 1. A producer-only event client: every event id is pushed to `sentEvents` so it can be
//    acknowledged later, but this client never consumes acknowledgements, so the array is never drained.
// 2. A map of call contexts whose cleanup was lost in a refactor: `finish()` no longer deletes the entry.
//
// Bounded state (a cache with a fixed size) churns too, so a leak finder must tell growth from churn.
'use strict';
const http = require('http');

class StreamClient {
  constructor(topic) {
    this.topic = topic;
    this.sentEvents = [];       // leak 1: never drained
    this.connected = true;
  }
  publish(event) {
    const id = `${this.topic}:${event.orderId}:${Date.now().toString(36)}:${Math.random().toString(36).slice(2)}`;
    this.sentEvents.push(id);
    return id;
  }
}

class CallContext {
  constructor(requestId, route) {
    this.requestId = requestId;
    this.route = route;
    this.startedAt = Date.now();
    this.headers = { 'x-request-id': requestId, 'user-agent': 'demo-client/1.0' };
    this.trace = new Array(8).fill(0).map((_, i) => ({ span: i, name: `span-${i}` }));
  }
}

class ContextRegistry {
  constructor() { this.contexts = new Map(); }   // leak 2: entries never removed
  start(requestId, route) {
    const ctx = new CallContext(requestId, route);
    this.contexts.set(requestId, ctx);
    return ctx;
  }
  finish(ctx) {
    ctx.finishedAt = Date.now();
    // this.contexts.delete(ctx.requestId);   <- lost in a refactor
  }
}

class LruCache {                                  // bounded: not a leak
  constructor(limit) { this.limit = limit; this.map = new Map(); }
  set(k, v) {
    this.map.set(k, v);
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value);
  }
}

const client = new StreamClient('orders');
const registry = new ContextRegistry();
const cache = new LruCache(500);
let nextRequest = 0;

function handleOrder() {
  const requestId = `req-${++nextRequest}`;
  const ctx = registry.start(requestId, '/orders');
  const order = { orderId: nextRequest, items: [1, 2, 3].map((n) => ({ sku: `sku-${n}`, qty: n })) };
  cache.set(order.orderId, order);
  client.publish(order);
  registry.finish(ctx);
  return order;
}

const rate = Number(process.env.DEMO_RATE || 2000);   // simulated requests per second
setInterval(() => { for (let i = 0; i < rate / 10; i++) handleOrder(); }, 100);

const server = http.createServer((req, res) => {
  const order = handleOrder();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ ok: true, orderId: order.orderId }));
});
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`demo service listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
