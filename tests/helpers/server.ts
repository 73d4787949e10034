import { spawn, type ChildProcess } from 'node:child_process';
import http, { type IncomingHttpHeaders } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import { PROJECT_ROOT, startCommand } from '../../scripts/startCommand.ts';

/** Bounds on waits for a condition; none of them is a timing assertion. */
export const START_TIMEOUT_MS = 60_000;
export const EXIT_TIMEOUT_MS = 20_000;
const HEALTH_POLL_MS = 50;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningServer {
  child: ChildProcess;
  port: number;
  url: string;
  /** The server's JSON log lines (stdout), parsed. */
  logs: Array<{ msg?: string; level?: number; [field: string]: unknown }>;
  stderr(): string;
  exited: Promise<Exit>;
  /** Started as a process group of its own (a command such as `npm start`). */
  processGroup?: boolean;
}

export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

export interface Posted<TData> {
  /** Settles once the whole request has been handed to the operating system. */
  sent: Promise<void>;
  /** Hangs up, as a client that gives up waiting does (the response then rejects). */
  abort(): void;
  response: Promise<{ status: number; headers: IncomingHttpHeaders; body: ExecutionResult<TData> }>;
}

/** A JSON POST that reports when it has been sent (fetch cannot), so a signal can follow it. */
export function post<TData, TVariables>(
  url: string,
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
  headers: Record<string, string> = {},
): Posted<TData> {
  let sent!: () => void;
  const posted = new Promise<void>((resolve) => (sent = resolve));
  let request!: http.ClientRequest;
  const response = new Promise<Awaited<Posted<TData>['response']>>((resolve, reject) => {
    request = http.request(
      `${url}/graphql`,
      { method: 'POST', headers: { ...headers, 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) });
          } catch (error) {
            reject(new Error(`status ${res.statusCode}, not JSON: ${text.slice(0, 200)} (${String(error)})`));
          }
        });
        res.on('error', reject);
      },
    );
    request.on('finish', sent);
    request.on('error', reject);
    request.end(JSON.stringify({ query: print(document), variables }));
  });
  return { sent: posted, abort: () => request.destroy(), response };
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`);
    const body = await response.json();
    return response.status === 200 && body?.status === 'ok';
  } catch {
    return false;
  }
}

/**
 * Real server processes: the build in dist/ (made by the global setup) started exactly as `npm start`
 * starts it, migrations included. Call `killAll` in afterAll: it ends whatever is still running,
 * also after a failure.
 */
export class ServerProcesses {
  private readonly started: RunningServer[] = [];

  /**
   * Starts a server on a free loopback port and waits (bounded) until /health answers ok. `command`
   * (e.g. `npm start`) runs instead of the built server, in `cwd`, as a process group of its own.
   */
  async start(env: Record<string, string>, options: { cwd?: string; command?: string[] } = {}): Promise<RunningServer> {
    const port = await freePort();
    const start = startCommand();
    const [file, ...args] = options.command ?? [process.execPath, ...start.argv];
    const child = spawn(file!, args, {
      cwd: options.cwd ?? PROJECT_ROOT,
      detached: options.command !== undefined,
      env: {
        ...process.env,
        ...(options.command ? {} : start.env),
        NODE_ENV: 'development',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        RATE_LIMITS: 'off',
        BCRYPT_COST: '10',
        ...env,
        PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs: RunningServer['logs'] = [];
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          logs.push(JSON.parse(line));
        } catch {
          logs.push({ msg: line });
        }
      }
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const url = `http://127.0.0.1:${port}`;
    const server: RunningServer = { child, port, url, logs, stderr: () => stderr, exited, processGroup: options.command !== undefined };
    this.started.push(server);

    let gone = false;
    const died = exited.then(({ code, signal }) => {
      gone = true;
      throw new Error(`server exited (${code ?? signal}) before it was ready:\n${stderr}\n${JSON.stringify(logs)}`);
    });
    const ready = (async () => {
      while (!gone && !(await healthy(url))) await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
    })();
    try {
      await within(Promise.race([ready, died]), START_TIMEOUT_MS, `the server on port ${port} answering /health`);
    } finally {
      gone = true;
      died.catch(() => undefined);
    }
    return server;
  }

  /** SIGTERM, then the exit (bounded). */
  async stop(server: RunningServer): Promise<Exit> {
    if (!running(server)) return server.exited;
    server.child.kill('SIGTERM');
    return within(server.exited, EXIT_TIMEOUT_MS, 'exit after SIGTERM');
  }

  /** SIGKILL, as a crash would end it, then the exit (bounded). */
  async crash(server: RunningServer): Promise<Exit> {
    if (running(server)) server.child.kill('SIGKILL');
    return within(server.exited, EXIT_TIMEOUT_MS, 'exit after SIGKILL');
  }

  /** Kills every server still running and waits (bounded) for them to be gone. */
  async killAll(): Promise<void> {
    const alive = this.started.filter(running);
    for (const server of alive) {
      // A command's whole process group (npm and the server it starts), or just the server.
      if (server.processGroup) process.kill(-server.child.pid!, 'SIGKILL');
      else server.child.kill('SIGKILL');
    }
    await within(Promise.all(alive.map((server) => server.exited)), EXIT_TIMEOUT_MS, 'servers exiting after SIGKILL').catch(
      () => undefined,
    );
  }
}

function running(server: RunningServer): boolean {
  return server.child.exitCode === null && server.child.signalCode === null;
}
