'use strict';
// GET /quote/:symbol?alert=PRICE: answers with the last price and arms a price alert.
const { feed } = require('./feed');

function handleQuote(req, res) {
  const alert = { user: req.user, symbol: req.symbol, above: req.above, fired: false, note: `alert ${req.id}` };
  // BUG: the alert subscribes for every request and never unsubscribes (no feed.off / once).
  feed.on('tick', function onTick(price) {
    if (price.symbol === alert.symbol && price.price > alert.above) alert.fired = true;
  });
  res.send({ symbol: req.symbol, price: feed.last.get(req.symbol) });
}

module.exports = { handleQuote, subscriptions: () => feed.listenerCount('tick') };
