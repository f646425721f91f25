// Preload (node --require): makes the process report a small memory limit through
// process.constrainedMemory(), the way a container limit shows up, for the snapshot guard's tests.
// The limit in bytes comes from CDPCLIENT_FAKE_MEMORY_LIMIT.
const limit = Number(process.env.CDPCLIENT_FAKE_MEMORY_LIMIT || 256 * 1024 * 1024);
process.constrainedMemory = () => limit;
