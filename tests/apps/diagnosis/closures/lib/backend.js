'use strict';
// The backend's side of the channel, simulated: answers every call in order.
function answer(method, params) {
  return { ok: true, method, rows: [params.key, params.key.length] };
}
module.exports = { answer };
