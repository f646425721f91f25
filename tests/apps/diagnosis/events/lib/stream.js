'use strict';
// A client of an event stream. It remembers the ids it sent so that acks can be matched;
// a producer-only client never reads acks, so nothing is ever removed.

class StreamClient {
  constructor(name) {
    this.name = name;
    this.seq = 0;
    this.sentEvents = [];
  }

  send(type, payload) {
    this.seq += 1;
    const id = `${this.name}:${type}:${Date.now().toString(36)}:${this.seq}`;
    this.sentEvents.push(id); // BUG: only drained by onAck, which a producer never gets
    return { id, type, payload: JSON.stringify(payload) };
  }

  onAck(id) {
    const at = this.sentEvents.indexOf(id);
    if (at >= 0) this.sentEvents.splice(at, 1);
  }
}

module.exports = { StreamClient };
