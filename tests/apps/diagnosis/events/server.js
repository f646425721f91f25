'use strict';
// An audit service that publishes one event per request to a stream and never reads acks.
// Truth: StreamClient.sentEvents event id strings, one per request.
const { serve, fakeRequest, requestLog } = require('../harness');
const { StreamClient } = require('./lib/stream');

const client = new StreamClient('audit-producer');

serve((size, batch) => {
  let bytes = 0;
  for (let i = 0; i < size; i++) {
    const req = fakeRequest(batch, i);
    const frame = client.send('request.handled', { url: req.url, user: req.body.user });
    bytes += frame.id.length;
    requestLog.record(req.method, req.url, 202);
  }
  let total = 0;
  for (const id of client.sentEvents) total += id.length;
  return { leaked: client.sentEvents.length, bytes: total };
});
