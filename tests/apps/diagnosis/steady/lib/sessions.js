'use strict';
// Sessions with an idle timeout and a subscription to config changes, both cleaned up on end.
const { EventEmitter } = require('events');

const config = new EventEmitter();
config.setMaxListeners(0); // one listener per live session, by design

class Session {
  constructor(id) {
    this.id = id;
    this.data = { user: `user-${id % 1000}`, cart: [id, id + 1] };
    this.onConfig = (change) => { this.data.config = change; };
    config.on('change', this.onConfig);
    this.idle = setTimeout(() => this.end(), 30000);
  }
  end() {
    clearTimeout(this.idle);
    config.removeListener('change', this.onConfig);
  }
}

module.exports = { Session, config };
