'use strict';
// An image thumbnail service: every distinct URL is resized once and cached, and the
// cache's eviction never runs. Truth: ImageCache.entries Buffers, 64 KiB each (off-heap).
const { serve, fakeRequest, requestLog } = require('../harness');
const { ImageCache } = require('./lib/cache');
const { resize } = require('./lib/resize');

const cache = new ImageCache(64 * 1024 * 1024);

serve((size, batch) => {
  for (let i = 0; i < size; i++) {
    const req = fakeRequest(batch, i);
    const url = `/img/${batch}/${i}.png?w=${120 + (i % 3) * 40}`;
    let thumb = cache.get(url);
    if (thumb === undefined) {
      thumb = resize(url, req.body.n);
      cache.set(url, thumb);
    }
    requestLog.record('GET', url, 200);
  }
  let bytes = 0;
  for (const image of cache.entries.values()) bytes += image.length;
  return { leaked: cache.entries.size, bytes };
});
