// The load generator, run by run.ts as its own process (so its CPU is not the server's): autocannon
// against loopback. Protocol over the fork IPC channel: the parent sends {specs}; this process
// warms up, answers {type:'warm'}, waits for {type:'go'} (the parent reads the server's CPU time
// in between), runs every spec at the same time and answers {type:'result', results}.
import autocannon from 'autocannon';

export interface LoadRequest {
  body: string;
  headers?: Record<string, string>;
}

export interface LoadSpec {
  name: string;
  /** Full URL of the GraphQL endpoint. */
  url: string;
  connections: number;
  /** Seconds. */
  duration: number;
  /** Cycled through by every connection, in order. */
  requests: LoadRequest[];
  headers: Record<string, string>;
  /** A response is correct when its status is 2xx and its body contains this text. */
  expect: string;
  /**
   * Replaces `[<id>]` in bodies with a new id each time (unique emails). Done here rather than with
   * autocannon's own idReplacement, whose Content-Length assumes 27-character ids and so hangs.
   */
  uniqueIds?: boolean;
}

export interface LoadResult {
  name: string;
  connections: number;
  requests: number;
  seconds: number;
  rps: number;
  latency: { mean: number; p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  /** Socket errors and timeouts. */
  transportErrors: number;
  /** Responses without the expected text: GraphQL errors, wrong result type, error statuses. */
  mismatches: number;
  errors: number;
}

type Message = { type: 'run'; specs: LoadSpec[]; warmup: number } | { type: 'go' };

/** Unique across the load generator processes of one run. */
let nextId = 0;
const idPrefix = `${process.pid.toString(36)}${Date.now().toString(36)}`;

function options(spec: LoadSpec, duration: number): autocannon.Options {
  const expected = spec.expect;
  const unique = (body: string) => ({ body: body.replaceAll('[<id>]', `${idPrefix}-${(nextId += 1)}`) });
  return {
    url: spec.url,
    method: 'POST',
    connections: spec.connections,
    duration,
    headers: spec.headers,
    requests: spec.requests.map((request) => ({
      method: 'POST' as const,
      body: request.body,
      headers: { ...spec.headers, ...request.headers },
      ...(spec.uniqueIds ? { setupRequest: (built: autocannon.Request) => ({ ...built, ...unique(request.body) }) } : {}),
    })),
    verifyBody: (body: string) => body.includes(expected),
    timeout: 30,
  };
}

function run(spec: LoadSpec, duration: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options(spec, duration), (error, result) => (error ? reject(error) : resolve(result)));
  });
}

function summarize(spec: LoadSpec, result: autocannon.Result): LoadResult {
  const mismatches = result.mismatches ?? 0;
  const requests = result.requests.total;
  const seconds = result.duration;
  const transportErrors = result.errors + result.timeouts;
  return {
    name: spec.name,
    connections: spec.connections,
    requests,
    seconds,
    rps: requests / seconds,
    latency: {
      mean: result.latency.average,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    non2xx: result.non2xx,
    transportErrors,
    mismatches,
    errors: Math.max(mismatches, result.non2xx) + transportErrors,
  };
}

const send = (message: unknown) => process.send!(message);

process.once('message', async (message: Message) => {
  if (message.type !== 'run') return;
  const { specs, warmup } = message;
  try {
    if (warmup > 0) await Promise.all(specs.map((spec) => run(spec, warmup)));
    const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
    send({ type: 'warm' });
    await go;
    const results = await Promise.all(specs.map((spec) => run(spec, spec.duration)));
    send({ type: 'result', results: results.map((result, i) => summarize(specs[i]!, result)) });
  } catch (error) {
    send({ type: 'error', message: (error as Error).stack ?? String(error) });
  }
  process.disconnect();
});
