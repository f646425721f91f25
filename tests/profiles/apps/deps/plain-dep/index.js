// A fake dependency that calls into its own nested dependency.
'use strict';
const inner = require('nested-dep');
module.exports = { nestedWork: (n) => inner.spin(n) };
