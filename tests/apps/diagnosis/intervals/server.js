'use strict';
// A gateway whose sessions open a Connection, exchange a few messages and close it; the
// keep-alive interval of each closed Connection is still scheduled.
// Truth: Connection objects (keepAlive intervals), one per session.
const { serve, fakeRequest, requestLog } = require('../harness');
const { ConnectionPool } = require('./lib/pool');

const pool = new ConnectionPool();
let closed = 0;

serve((size, batch) => {
  const live = [];
  for (let i = 0; i < size; i++) {
    const req = fakeRequest(batch, i);
    const conn = pool.connect();
    conn.buffer.pending.push(req.body);
    live.push(conn);
    requestLog.record('GET', '/ws', 101);
  }
  for (const conn of live) { conn.buffer.pending.length = 0; conn.close(); closed += 1; }
  return { leaked: closed, bytes: 0 };
});
