// Reference numbers for a heap snapshot, computed by memlab (an independent parser and
// dominator implementation), written as one JSON object to OUT.
//   node memlab_reference.js FILE OUT [TOP]
// Module resolution: NODE_PATH must name the node_modules memlab is installed in.
'use strict';
const fs = require('fs');
const { getFullHeapFromFile } = require('@memlab/heap-analysis');

// DevTools' Summary grouping, applied to memlab's nodes.
function className(node) {
  switch (node.type) {
    case 'hidden': return '(system)';
    case 'object': case 'native': return node.name.replace(/^Detached /, '');
    case 'code': return '(compiled code)';
    default: return '(' + node.type + ')';
  }
}

async function main() {
  const file = process.argv[2];
  const outFile = process.argv[3];
  const top = Number(process.argv[4] || 50);
  const heap = await getFullHeapFromFile(file);
  const classes = {};
  let totalSize = 0;
  const n = heap.nodes.length;
  const retained = new Float64Array(n);
  const dom = new Int32Array(n).fill(-1);
  const cls = new Array(n);
  heap.nodes.forEach((node) => {
    const c = className(node);
    cls[node.nodeIndex] = c;
    retained[node.nodeIndex] = node.retainedSize;
    const d = node.dominatorNode;
    dom[node.nodeIndex] = d && d.nodeIndex !== node.nodeIndex ? d.nodeIndex : -1;
    totalSize += node.self_size;
    const entry = classes[c] || (classes[c] = [0, 0, 0]);
    entry[0] += 1;
    entry[1] += node.self_size;
  });
  // Class retained size as DevTools defines it: an object counts unless an object of the
  // same class dominates it.
  for (let i = 0; i < n; i++) {
    let d = dom[i];
    let nested = false;
    let hops = 0;
    while (d >= 0 && hops < 100000) {
      if (cls[d] === cls[i]) { nested = true; break; }
      d = dom[d];
      hops++;
    }
    if (!nested) classes[cls[i]][2] += retained[i];
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => retained[b] - retained[a]);
  const objects = order.slice(0, top).map((i) => [heap.nodes.get(i).id, retained[i], cls[i]]);
  const out = { node_count: n, edge_count: heap.edges.length, total_size: totalSize, classes, objects };
  fs.writeFileSync(outFile, JSON.stringify(out));
}

main().catch((err) => { process.stderr.write(String(err && err.stack || err) + '\n'); process.exit(1); });
