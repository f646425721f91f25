'use strict';
// A size-bounded LRU cache (a Map kept in use order).
class LruCache {
  constructor(limit) { this.limit = limit; this.map = new Map(); }
  get(key) {
    const value = this.map.get(key);
    if (value !== undefined) { this.map.delete(key); this.map.set(key, value); }
    return value;
  }
  set(key, value) {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.limit) this.map.delete(this.map.keys().next().value);
  }
}
module.exports = { LruCache };
