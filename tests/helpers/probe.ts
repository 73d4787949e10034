import { Worker } from 'node:worker_threads';

/**
 * Asks for `/health` every few milliseconds from a thread of its own, so the probe keeps time even
 * when the server under test (running in the test's thread) blocks its event loop. `ready` settles
 * after a first answer (which pays for the thread's start and is not counted); `stop()` returns how
 * long each later answer took, in milliseconds, an unanswered last probe included.
 */
export function probeHealth(url: string, everyMs = 10): { ready: Promise<void>; stop(): Promise<number[]> } {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const latencies = [];
    let running = true;
    let pending = null;
    parentPort.on('message', () => {
      running = false;
      // A probe still waiting counts with the time it has waited so far.
      if (pending !== null) latencies.push(performance.now() - pending);
      parentPort.postMessage(latencies);
    });
    (async () => {
      await (await fetch(workerData.url + '/health')).text();
      parentPort.postMessage('ready');
      while (running) {
        pending = performance.now();
        try {
          await (await fetch(workerData.url + '/health')).text();
        } catch {}
        if (!running) break;
        latencies.push(performance.now() - pending);
        pending = null;
        await new Promise((resolve) => setTimeout(resolve, workerData.everyMs));
      }
    })();
    `,
    { eval: true, workerData: { url, everyMs } },
  );
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return {
    ready,
    async stop() {
      await ready;
      const latencies = new Promise<number[]>((resolve) => worker.once('message', resolve));
      worker.postMessage('stop');
      const result = await latencies;
      await worker.terminate();
      return result;
    },
  };
}
