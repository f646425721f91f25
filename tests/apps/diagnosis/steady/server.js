'use strict';
// The negative control: the same kind of work as the leaking services, with every cleanup
// in place (bounded LRU that churns, timers cleared, listeners removed). Truth: no leak.
const { serve, fakeRequest, requestLog } = require('../harness');
const { LruCache } = require('./lib/lru');
const { Session, config } = require('./lib/sessions');

const profiles = new LruCache(300);

serve((size, batch) => {
  const sessions = [];
  for (let i = 0; i < size; i++) {
    const req = fakeRequest(batch, i);
    const key = `${req.url}?v=${batch}`;
    if (profiles.get(key) === undefined) profiles.set(key, { user: req.body.user, tags: req.body.tags, payload: 'x'.repeat(200) + i });
    sessions.push(new Session(batch * size + i));
    requestLog.record(req.method, req.url, 200);
  }
  config.emit('change', { batch });
  for (const s of sessions) s.end();
  return { leaked: 0, bytes: 0 };
});
