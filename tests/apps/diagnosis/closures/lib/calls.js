'use strict';
// RPC calls to a backend over one multiplexed channel: replies are matched by call id.

const pendingCalls = new Map();
let nextId = 1;

function call(method, params, done) {
  const id = nextId++;
  const context = { id, method, params, startedAt: Date.now(), trace: `trace-${id}-${method}` };
  pendingCalls.set(id, function onReply(result) {
    context.finishedAt = Date.now();
    done(null, result, context);
  });
  return id;
}

function reply(id, result) {
  const onReply = pendingCalls.get(id);
  if (onReply === undefined) return;
  // BUG: `pendingCalls.delete(id)` was lost in a refactor: every answered call stays.
  onReply(result);
}

module.exports = { call, reply, stats: () => ({ calls: pendingCalls.size }) };
