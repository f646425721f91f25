// DevTools' own heap snapshot model, run under Node: Summary rows (class key, name, count, sizes).
import * as fs from 'node:fs';
import {SecondaryInitManager} from './package/front_end/entrypoints/heap_snapshot_worker/HeapSnapshot.js';
import {HeapSnapshotLoader} from './package/front_end/entrypoints/heap_snapshot_worker/HeapSnapshotLoader.js';

async function main(): Promise<void> {
  const [input, output] = process.argv.slice(2);
  const dispatcher = {sendEvent() {}} as any;
  const loader = new HeapSnapshotLoader(dispatcher);
  const fd = fs.openSync(input, 'r');
  const buf = Buffer.alloc(1 << 20);
  const decoder = new TextDecoder();
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    loader.write(decoder.decode(buf.subarray(0, n), {stream: true}));
  }
  loader.close();
  const channel = new MessageChannel();
  new SecondaryInitManager(channel.port2 as any);
  const snap = await loader.buildSnapshot(channel.port1 as any);
  channel.port1.close();
  channel.port2.close();
  const aggregates = snap.aggregatesWithFilter({} as any);
  const classes: Record<string, unknown> = {};
  for (const [key, agg] of Object.entries(aggregates)) {
    classes[key] = {name: agg.name, count: agg.count, self: agg.self, retained: agg.maxRet};
  }
  fs.writeFileSync(output, JSON.stringify({classes, total: snap.totalSize, nodeCount: snap.nodeCount}));
}
main().catch(e => { console.error(e); process.exit(1); });
