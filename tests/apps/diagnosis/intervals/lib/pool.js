'use strict';
// Client connections of a websocket-ish gateway, with a keep-alive ping every 20 s.

class Connection {
  constructor(id, pool) {
    this.id = id;
    this.pool = pool;
    this.openedAt = Date.now();
    this.lastPing = 0;
    this.buffer = { pending: [], user: `user-${id % 1000}` };
    const conn = this;
    this.timer = setInterval(function keepAlive() {
      conn.lastPing = Date.now();
      conn.pool.pings += 1;
    }, 20000);
  }

  close() {
    // BUG: the keep-alive interval is never cleared (no clearInterval(this.timer)): the
    // timer list keeps every closed Connection alive.
    this.pool.open.delete(this);
    this.closed = true;
  }
}

class ConnectionPool {
  constructor() { this.open = new Set(); this.pings = 0; this.nextId = 1; }
  connect() { const c = new Connection(this.nextId++, this); this.open.add(c); return c; }
}

module.exports = { Connection, ConnectionPool };
