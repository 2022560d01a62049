import { parentPort, workerData } from 'node:worker_threads';
import { checkSegment, segmentContext, type SegmentInit, type SegmentTask } from './segment.js';

/** Worker thread of `bundle verify`: checks the segments the main thread sends, one at a time. */
const port = parentPort;
if (port) {
  const ctx = segmentContext(workerData as SegmentInit);
  port.on('message', (task: SegmentTask) => {
    const result = checkSegment(task, ctx);
    port.postMessage(result, [result.leaves.buffer as ArrayBuffer]);
  });
}
