'use strict';
// Webhook delivery to a subscriber that is down: three deliveries in four fail.
const { RetryQueue, DeliveryError } = require('./retry');

const retries = new RetryQueue();

function deliver(event, n) {
  const target = `https://hooks.example.com/${event.user}`;
  if (n % 4 === 0) return Promise.resolve({ target, status: 200 });
  return Promise.reject(new DeliveryError(target, 503, 1));
}

async function dispatch(event, n) {
  const delivery = deliver(event, n);
  try {
    return await delivery;
  } catch (err) {
    retries.add(delivery);
    return { target: err.target, status: err.status };
  }
}

module.exports = { dispatch, retries };
