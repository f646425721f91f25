'use strict';
// One price feed for the whole process; request handlers subscribe to its ticks.
const { EventEmitter } = require('events');

class PriceFeed extends EventEmitter {
  constructor(symbols) {
    super();
    this.symbols = symbols;
    this.last = new Map(symbols.map((s) => [s, 100]));
  }

  publish(symbol, price) {
    this.last.set(symbol, price);
    this.emit('tick', { symbol, price, at: Date.now() });
  }
}

module.exports = { PriceFeed, feed: new PriceFeed(['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA']) };
