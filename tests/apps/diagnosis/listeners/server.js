'use strict';
// A quote service: every request arms a price alert on the shared PriceFeed and never
// removes its listener. Truth: PriceFeed 'tick' listeners (onTick), one per request.
const { serve, fakeRequest, requestLog } = require('../harness');
const { feed } = require('./lib/feed');
const { handleQuote, subscriptions } = require('./lib/quotes');

serve((size, batch) => {
  for (let i = 0; i < size; i++) {
    const raw = fakeRequest(batch, i);
    const symbol = feed.symbols[i % feed.symbols.length];
    const req = { id: raw.headers['x-request-id'], user: raw.body.user, symbol, above: 100 + (i % 7) };
    let sent = null;
    handleQuote(req, { send: (body) => { sent = JSON.stringify(body); } });
    requestLog.record('GET', `/quote/${symbol}`, sent ? 200 : 500);
  }
  feed.publish('ACME', 101 + batch);
  return { leaked: subscriptions(), bytes: 0 };
});
