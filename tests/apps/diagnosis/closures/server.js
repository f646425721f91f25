'use strict';
// An API that forwards each request as an RPC call and answers from the reply. Replies are
// delivered, but the reply callbacks are never removed from pendingCalls.
// Truth: lib/calls.js `pendingCalls` (Map) entries, onReply closures, one per call.
const { serve, fakeRequest, requestLog } = require('../harness');
const { call, reply, stats } = require('./lib/calls');
const { answer } = require('./lib/backend');

serve((size, batch) => {
  const sent = [];
  let answered = 0;
  for (let i = 0; i < size; i++) {
    const req = fakeRequest(batch, i);
    const params = { key: req.url, user: req.body.user };
    sent.push([call('lookup', params, () => { answered += 1; }), params, req.url]);
  }
  for (const [id, params, url] of sent) {
    reply(id, answer('lookup', params));
    requestLog.record('POST', url, 200);
  }
  if (answered !== size) throw new Error(`${size - answered} calls unanswered`);
  return { leaked: stats().calls, bytes: 0 };
});
