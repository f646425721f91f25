'use strict';
// A webhook dispatcher: failed deliveries (rejected promises, each holding its Error) are
// queued for a retry that never comes. Truth: RetryQueue.failed promises.
const { serve, fakeRequest, requestLog } = require('../harness');
const { dispatch, retries } = require('./lib/webhooks');

serve(async (size, batch) => {
  const results = await Promise.all(Array.from({ length: size }, (_, i) => dispatch(fakeRequest(batch, i).body, i)));
  for (const r of results) requestLog.record('POST', r.target, r.status);
  return { leaked: retries.failed.length, bytes: 0 };
});
