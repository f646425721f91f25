'use strict';
// Failed deliveries are kept for a retry pass "later"; the pass was never written.

class DeliveryError extends Error {
  constructor(target, status, attempt) {
    super(`delivery to ${target} failed with ${status} (attempt ${attempt})`);
    this.name = 'DeliveryError';
    this.target = target;
    this.status = status;
  }
}

class RetryQueue {
  constructor() {
    this.failed = [];
  }

  // BUG: nothing ever takes promises out of `failed`.
  add(delivery) {
    delivery.catch(() => {}); // handled: no unhandledRejection
    this.failed.push(delivery);
  }
}

module.exports = { RetryQueue, DeliveryError };
