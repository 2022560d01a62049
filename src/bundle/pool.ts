import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { checkSegment, segmentContext, type SegmentInit, type SegmentResult, type SegmentTask } from './segment.js';

/** Runs segment checks: on worker threads when it pays, inline otherwise. Results come back in any order. */
export interface SegmentRunner {
  readonly threads: number;
  run(task: SegmentTask): Promise<SegmentResult>;
  close(): Promise<void>;
}

export function inlineRunner(init: SegmentInit): SegmentRunner {
  const ctx = segmentContext(init);
  return {
    threads: 0,
    run: (task) => Promise.resolve(checkSegment(task, ctx)),
    close: () => Promise.resolve(),
  };
}

/**
 * The compiled worker: next to this module (tsc output, dist/bundle/), next to a bundled bin (dist/bin/, when
 * the bundler emits it as an entry), or the tsc copy seen from dist/bin/. Under a TypeScript test runner there is
 * only `verify-worker.ts`, which a plain worker thread cannot load: then there is none and checks run inline.
 */
export function defaultWorkerScript(): URL | undefined {
  if (import.meta.url.endsWith('.ts')) return undefined;
  for (const candidate of ['./verify-worker.js', './verify-worker.mjs', '../bundle/verify-worker.js']) {
    const url = new URL(candidate, import.meta.url);
    if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) return url;
  }
  return undefined;
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

interface Pending {
  task: SegmentTask;
  resolve: (result: SegmentResult) => void;
  reject: (error: Error) => void;
}

/**
 * A fixed pool of worker threads fed from one queue, two tasks in flight per worker so a worker never waits
 * for the main thread between tasks. Segment bytes are shared, results' leaves transferred: nothing large is copied.
 */
export function workerRunner(init: SegmentInit, script: URL, count: number): SegmentRunner {
  const queue: Pending[] = [];
  const slots = new Map<Worker, Pending[]>();
  let failed: Error | undefined;

  const pump = (): void => {
    for (const [worker, inFlight] of slots) {
      while (inFlight.length < 2 && queue.length > 0) {
        const next = queue.shift() as Pending;
        inFlight.push(next);
        // Segment bytes live in a SharedArrayBuffer: posted without a copy.
        worker.postMessage(next.task);
      }
    }
  };
  const fail = (error: Error): void => {
    failed ??= error;
    for (const inFlight of slots.values()) for (const pending of inFlight.splice(0)) pending.reject(error);
    for (const pending of queue.splice(0)) pending.reject(error);
  };

  for (let i = 0; i < count; i++) {
    const worker = new Worker(script, { workerData: init });
    slots.set(worker, []);
    worker.on('message', (result: SegmentResult) => {
      const inFlight = slots.get(worker) ?? [];
      const index = inFlight.findIndex((p) => p.task.index === result.index);
      const [pending] = inFlight.splice(index, 1);
      pending?.resolve(result);
      pump();
    });
    worker.on('error', (error) => fail(error));
    worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`a verify worker exited with code ${code}`));
    });
  }

  return {
    threads: count,
    run: (task) =>
      new Promise<SegmentResult>((resolve, reject) => {
        if (failed) {
          reject(failed);
          return;
        }
        queue.push({ task, resolve, reject });
        pump();
      }),
    close: async () => {
      await Promise.all([...slots.keys()].map((worker) => worker.terminate()));
    },
  };
}
