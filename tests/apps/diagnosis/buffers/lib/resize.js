'use strict';
// "Resizing": a 64 KiB thumbnail per image, made from a temporary decode buffer.
const THUMB_BYTES = 64 * 1024;

function resize(url, width) {
  const decoded = Buffer.allocUnsafe(16 * 1024); // temporary, dropped after the call
  decoded.fill(width & 0xff);
  const thumb = Buffer.alloc(THUMB_BYTES);
  thumb.write(url, 0);
  thumb[THUMB_BYTES - 1] = decoded[0];
  return thumb;
}

module.exports = { resize, THUMB_BYTES };
