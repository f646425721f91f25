'use strict';
// Resized images, cached by URL, meant to be bounded at 64 MB.

class ImageCache {
  constructor(maxBytes) {
    this.maxBytes = maxBytes;
    this.size = 0;
    this.entries = new Map();
  }

  get(url) { return this.entries.get(url); }

  set(url, image) {
    this.entries.set(url, image);
    // BUG: counts kilobytes but compares with a limit in bytes: eviction never runs.
    this.size += image.length / 1024;
    while (this.size > this.maxBytes && this.entries.size > 0) {
      const [oldest, old] = this.entries.entries().next().value;
      this.entries.delete(oldest);
      this.size -= old.length / 1024;
    }
  }
}

module.exports = { ImageCache };
