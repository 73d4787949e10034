// `npm run bench`: the service against its floors and the targets (issues 6 and 16). See README "Performance".
//
//   npm run bench                      # everything, about 6 minutes
//   npm run bench -- --quick           # short runs, no 1M-user step: a smoke test of the harness
//   npm run bench -- --duration 20     # seconds per scenario (reads, logins, registers)
//   npm run bench -- --sizes 10000,100000        # scaling steps (default 10k, 100k, 1M)
//   npm run bench -- --workers 1       # WEB_CONCURRENCY for the service (default: the environment's, else the cores)
//   npm run bench -- --profile         # also write --cpu-prof profiles of every server (bench-results/profiles-*/)
//   npm run bench -- --only me,users   # only these scenarios (me, bearer, user, users, login, wrong, register, mixed, scaling)
//   npm run bench -- --max-wait 0      # do not wait (default: up to 20 s, 2 min in all) for a quiet machine before each measurement
//   npm run bench -- --node-flags='--max-old-space-size=80'   # Node flags for the service and the floor instead of npm start's
//   npm run bench -- --database-url postgresql://user:password@localhost:5432/postgres
//                                      # PostgreSQL instead (the role needs CREATEDB: each step gets a fresh database)
//
// Everything runs on loopback against a fresh SQLite file in a temporary folder (or fresh
// PostgreSQL databases, dropped afterwards); the load generator (autocannon) is a separate
// process. Results: a table on stdout and bench-results/<timestamp>.json.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import bcrypt from 'bcryptjs';
import { decodeJwt, SignJWT } from 'jose';
import { loadConfig } from '../../src/config.ts';
import { applyMigrations } from '../../src/migrate.ts';
import { secretKid } from '../../src/signingKeys.ts';
import type { LoadRequest, LoadResult, LoadSpec } from './load.ts';
import { alive, childPids, cpuMs, machineBusyMs, mainThreadCpuMs, peakRssMb, resetPeakRss } from './proc.ts';
import { buildDist } from '../build.ts';
import { PROJECT_ROOT, startCommand } from '../startCommand.ts';
import { ADMIN_EMAIL, BENCH_PASSWORD, seedPostgres, seedUsers, userEmail } from './seed.ts';

const ROOT = PROJECT_ROOT;
const HERE = path.join(ROOT, 'scripts', 'bench');
const SECRET = 'bench-secret-that-is-at-least-32-characters-long';
const JWT_SECRET = `${SECRET}-jwt`;
/** The service signs access tokens with this Ed25519 key; JWT_SECRET also verifies (HS256), for the side-by-side bearer scenarios. */
const SIGNING_KEY = String(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    'scale-duration': { type: 'string' },
    sizes: { type: 'string' },
    users: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '10' },
    workers: { type: 'string' },
    profile: { type: 'boolean', default: false },
    only: { type: 'string' },
    'max-wait': { type: 'string', default: '20' },
    'database-url': { type: 'string' },
    'node-flags': { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  const text = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8');
  console.log(text.split('\n').filter((line) => line.startsWith('//')).slice(0, 13).map((line) => line.slice(3)).join('\n'));
  process.exit(0);
}

const quick = args.quick;
const duration = Number(args.duration ?? (quick ? 3 : 10));
const warmup = Number(args.warmup ?? (quick ? 1 : 2));
const scaleDuration = Number(args['scale-duration'] ?? (quick ? 2 : 5));
const sizes = (args.sizes ?? (quick ? '10000,100000' : '10000,100000,1000000')).split(',').filter(Boolean).map(Number);
const seedCount = Number(args.users);
const connections = Number(args.connections);
/** Enough logins in flight to keep every hash thread busy, few enough to keep the queue short. */
const loginConnections = 8;
const workers = Number(args.workers ?? process.env.WEB_CONCURRENCY ?? os.availableParallelism());
/** Serving processes as the service's own configuration sees it (1 on commits without WEB_CONCURRENCY). */
let serviceProcesses = 1;
const only = args.only ? new Set(args.only.split(',')) : null;
const wanted = (name: string) => only === null || only.has(name);

/**
 * The service's command line and variables as `npm start` runs it (after its build), unless
 * --node-flags replaces the flags. The floor runs with the same: the ratios compare code, not heap settings.
 */
const start = startCommand();
const serviceArgv = args['node-flags'] === undefined ? start.argv : [...args['node-flags'].split(/\s+/).filter(Boolean), 'dist/server.js'];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-bench-'));
const started: ChildProcess[] = [];
const profileDir = path.join(ROOT, 'bench-results', `profiles-${new Date().toISOString().replace(/[:.]/g, '-')}`);

// ---------------------------------------------------------------------------------------------
// Processes

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Server {
  name: string;
  child: ChildProcess;
  url: string;
  output: string[];
  /** The process and, in cluster mode, its workers. */
  pids(): number[];
  stop(): Promise<number | null>;
}

function serviceEnv(dir: string, databaseUrl: string, port: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...start.env,
    NODE_ENV: 'production',
    SESSION_SECRET: SECRET,
    JWT_SIGNING_KEYS: SIGNING_KEY,
    JWT_SECRET,
    TOTP_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dir,
    DATABASE_URL: databaseUrl,
    // The harness speaks plain HTTP as a TLS proxy would behind it, so Secure cookies are set.
    TRUST_PROXY: 'loopback',
    WEB_CONCURRENCY: String(workers),
  };
}

async function startProcess(
  name: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  ready: (output: string[]) => Promise<boolean>,
): Promise<Server> {
  // One folder per process tree (a cluster's workers inherit the flags); files are named by pid.
  const profile = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, name)}`] : [];
  const child = spawn(process.execPath, [...profile, ...argv], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  const output: string[] = [];
  const collect = (chunk: Buffer) => output.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 90_000;
  while (!(await ready(output).catch(() => false))) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before serving:\n${output.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`${name} did not start within 90 s:\n${output.join('\n')}`);
    await sleep(100);
  }
  return {
    name,
    child,
    url: `http://127.0.0.1:${port}/graphql`,
    output,
    pids: () => [child.pid!, ...childPids(child.pid!)].filter(alive),
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

async function startService(name: string, dir: string, databaseUrl: string): Promise<Server> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const server = await startProcess(name, serviceArgv, serviceEnv(dir, databaseUrl, port), port, async () => {
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    return response.ok;
  });
  // Cluster workers start listening one by one: wait until all of them have forked and warmed up.
  if (serviceProcesses > 1) {
    const deadline = Date.now() + 60_000;
    while (childPids(server.child.pid!).length < serviceProcesses && Date.now() < deadline) await sleep(100);
    await sleep(3000);
  }
  return server;
}

/** scripts/bench/floor.ts: the read floor by default; with `env` (FLOOR_HASH_COST, ...) the login floor. */
async function startFloor(name: string, env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  return startProcess(name, [...serviceArgv.slice(0, -1), '--import', 'tsx', 'scripts/bench/floor.ts'], { ...process.env, ...start.env, ...env, PORT: String(port) }, port, async (output) =>
    output.includes('listening'),
  );
}

// ---------------------------------------------------------------------------------------------
// Databases

const postgresUrl = args['database-url'] ?? process.env.BENCH_DATABASE_URL;
const databasesToDrop: string[] = [];

interface BenchDatabase {
  url: string;
  seedSeconds: number;
}

/** A fresh database, migrated with the service's own migrations, holding `count` users plus the admin. */
async function freshDatabase(label: string, count: number, passwordHash: string): Promise<BenchDatabase> {
  if (!postgresUrl) {
    const file = path.join(tmp, label, 'bench.db');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await applyMigrations(`file:${file}`);
    return { url: `file:${file}`, seedSeconds: seedUsers(file, count, passwordHash) / 1000 };
  }
  const { default: pg } = await import('pg');
  const name = `auth_bench_${process.pid}_${label.replace(/\W/g, '_')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  databasesToDrop.push(name);
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  await applyMigrations(url.toString());
  return { url: url.toString(), seedSeconds: (await seedPostgres(url.toString(), count, passwordHash)) / 1000 };
}

async function dropDatabases(): Promise<void> {
  if (!postgresUrl || databasesToDrop.length === 0) return;
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  for (const name of databasesToDrop.splice(0)) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
}

// ---------------------------------------------------------------------------------------------
// GraphQL documents and requests

const BASE_HEADERS = { 'content-type': 'application/json', 'x-forwarded-proto': 'https' };
const ME = 'query Me { me { id email firstName lastName isStaff } }';
const USER = 'query User($id: ID!) { user(id: $id) { id email firstName lastName isStaff } }';
/** An admin list page as Django REST Framework's paginated list answers it: 20 rows and the total count. */
const USERS =
  'query Users($after: String) { users(first: 20, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id email firstName lastName isStaff } } } }';
const LOGIN =
  'mutation Login($input: LoginInput!) { login(input: $input) { __typename ... on User { id email } ... on Error { message } } }';
const OBTAIN_TOKENS =
  'mutation ObtainTokens($input: LoginInput!) { obtainTokens(input: $input) { __typename ... on TokenPair { accessToken } ... on Error { message } } }';
const REGISTER =
  'mutation Register($input: RegisterInput!) { register(input: $input) { __typename ... on User { id email } ... on ValidationError { fieldErrors { field messages } } } }';

const body = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });

async function post(url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { ...BASE_HEADERS, ...headers }, body: body(query, variables) });
  const json = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (json.errors) throw new Error(`${query.slice(0, 40)}...: ${JSON.stringify(json.errors)}`);
  return { json, cookie: response.headers.getSetCookie()[0]?.split(';')[0] };
}

async function login(url: string, email: string): Promise<string> {
  const { json, cookie } = await post(url, LOGIN, { input: { email, password: BENCH_PASSWORD } });
  if (json.data?.login?.__typename !== 'User' || !cookie) throw new Error(`login as ${email} failed: ${JSON.stringify(json)}`);
  return cookie;
}

/** An access token the service signed (EdDSA), for a sign-in that stays live during the run. */
async function obtainAccessToken(url: string, email: string): Promise<string> {
  const { json } = await post(url, OBTAIN_TOKENS, { input: { email, password: BENCH_PASSWORD } });
  if (json.data?.obtainTokens?.__typename !== 'TokenPair') throw new Error(`obtainTokens as ${email} failed: ${JSON.stringify(json)}`);
  return json.data.obtainTokens.accessToken;
}

/**
 * The same sign-in's token as the service signs it with JWT_SECRET alone (HS256): same claims, the
 * secret's kid. The service verifies both, so the two bearer scenarios differ only in the algorithm.
 */
async function hs256Twin(accessToken: string): Promise<string> {
  const { sub, sid, roles, scope, iss, aud, exp } = decodeJwt(accessToken);
  return new SignJWT({ sid, roles, scope })
    .setProtectedHeader({ alg: 'HS256', kid: secretKid(JWT_SECRET), typ: 'JWT' })
    .setIssuer(iss!)
    .setAudience(aud!)
    .setSubject(sub!)
    .setIssuedAt()
    .setExpirationTime(exp!)
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** A users cursor for another id, made from one the server handed out (its format is Pothos's). */
function cursorFor(sample: string, sampleId: number, id: number): string {
  const decoded = Buffer.from(sample, 'base64').toString();
  if (!decoded.endsWith(`:${sampleId}`)) throw new Error(`unexpected cursor format: ${decoded}`);
  return Buffer.from(decoded.slice(0, -String(sampleId).length) + String(id)).toString('base64');
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Measured {
  scenario: string;
  loads: LoadResult[];
  server: string;
  serverCpuMs: number;
  cpuMsPerRequest: number;
  /** The part of cpuMsPerRequest spent on the server's event loops (main threads). */
  eventLoopMsPerRequest: number;
  /** Server CPU over the measured window as a share of one core (200% = both cores). */
  serverCpuPercent: number;
  loadGeneratorCpuPercent: number;
  /** CPU used by everything else on the machine meanwhile: noise from other processes. */
  otherCpuPercent: number;
  /** Highest VmHWM among the server's processes, reset at the start of the scenario (warm-up included). */
  peakRssMb: number;
  peakRssMbByProcess: Record<string, number>;
}

const maxWaitMs = Number(args['max-wait']) * 1000;
/** Other processes may use up to this share of one core while we measure (%). */
const QUIET_PERCENT = 15;

/**
 * This machine may be shared (tests of other work running), and the server may still be finishing
 * the last scenario's queued logins: before measuring, wait a bounded time for the whole machine
 * to use less than QUIET_PERCENT of a core over a second.
 */
async function waitForQuiet(): Promise<number> {
  const started = performance.now();
  for (;;) {
    const before = machineBusyMs();
    await sleep(1000);
    const busy = machineBusyMs() - before;
    const waited = performance.now() - started;
    if (busy / 10 < QUIET_PERCENT || waited >= maxWaitMs) return waited;
  }
}

/** Waiting stops for good once a run has waited this long in all: it is noted in the results instead. */
const TOTAL_WAIT_MS = 120_000;
let waitedInAll = 0;

async function quiet(): Promise<void> {
  if (maxWaitMs <= 0 || waitedInAll >= TOTAL_WAIT_MS) return;
  const waited = await waitForQuiet();
  waitedInAll += waited;
  if (waited > 1500) process.stdout.write(`(waited ${(waited / 1000).toFixed(0)} s for the machine to go quiet) `);
}

async function measure(scenario: string, server: Server, specs: LoadSpec[], warm = warmup): Promise<Measured> {
  await quiet();
  const pids = server.pids();
  for (const pid of pids) resetPeakRss(pid);
  const generator = fork(path.join(HERE, 'load.ts'), [], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  started.push(generator);
  let cpuBefore = 0;
  let loopsBefore = 0;
  let generatorBefore = 0;
  let windowStart = 0;
  let machineBefore = 0;
  const results = await new Promise<LoadResult[]>((resolve, reject) => {
    generator.on('message', (message: { type: string; results?: LoadResult[]; message?: string }) => {
      if (message.type === 'warm') {
        cpuBefore = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
        loopsBefore = pids.reduce((sum, pid) => sum + mainThreadCpuMs(pid), 0);
        generatorBefore = cpuMs(generator.pid!);
        machineBefore = machineBusyMs();
        windowStart = performance.now();
        generator.send({ type: 'go' });
      } else if (message.type === 'result') {
        resolve(message.results!);
      } else {
        reject(new Error(`load generator: ${message.message}`));
      }
    });
    generator.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited with ${code}`)));
    generator.send({ type: 'run', specs, warmup: warm });
  });
  const seconds = (performance.now() - windowStart) / 1000;
  const machineCpu = machineBusyMs() - machineBefore;
  const serverCpuMs = pids.reduce((sum, pid) => sum + (alive(pid) ? cpuMs(pid) : 0), 0) - cpuBefore;
  const eventLoopCpuMs = pids.reduce((sum, pid) => sum + (alive(pid) ? mainThreadCpuMs(pid) : 0), 0) - loopsBefore;
  const generatorCpu = alive(generator.pid!) ? cpuMs(generator.pid!) - generatorBefore : NaN;
  const peaks = Object.fromEntries(pids.map((pid) => [String(pid), round(peakRssMb(pid), 1)]));
  const requests = results.reduce((sum, load) => sum + load.requests, 0);
  return {
    scenario,
    loads: results,
    server: server.name,
    serverCpuMs,
    cpuMsPerRequest: serverCpuMs / requests,
    eventLoopMsPerRequest: eventLoopCpuMs / requests,
    serverCpuPercent: (serverCpuMs / 10 / seconds),
    loadGeneratorCpuPercent: generatorCpu / 10 / seconds,
    otherCpuPercent: Math.max(0, machineCpu - serverCpuMs - generatorCpu) / 10 / seconds,
    peakRssMb: Math.max(...Object.values(peaks)),
    peakRssMbByProcess: peaks,
  };
}

const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

function spec(name: string, url: string, requests: LoadRequest[], expect: string, extra: Partial<LoadSpec> = {}): LoadSpec {
  return { name, url, connections, duration, requests, headers: BASE_HEADERS, expect, ...extra };
}

// ---------------------------------------------------------------------------------------------
// Output

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(rows[0]!), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function scenarioRows(measured: Measured[]): string[][] {
  const rows = [['scenario', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'cpu ms/req', 'loop ms/req', 'srv cpu%', 'gen cpu%', 'other cpu%', 'peak RSS MB']];
  for (const m of measured) {
    for (const [i, load] of m.loads.entries()) {
      rows.push([
        m.loads.length > 1 ? `${m.scenario} [${load.name}]` : m.scenario,
        String(load.connections),
        round(load.rps, 1).toFixed(1),
        String(load.latency.p50),
        String(load.latency.p99),
        String(load.errors),
        i === 0 ? m.cpuMsPerRequest.toFixed(2) : '〃',
        i === 0 ? m.eventLoopMsPerRequest.toFixed(2) : '〃',
        i === 0 ? round(m.serverCpuPercent).toString() : '〃',
        i === 0 ? round(m.loadGeneratorCpuPercent).toString() : '〃',
        i === 0 ? round(m.otherCpuPercent).toString() : '〃',
        i === 0 ? m.peakRssMb.toFixed(1) : '〃',
      ]);
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The run

async function main() {
  const runStarted = Date.now();
  // The service runs as `npm start` runs it: built to plain JavaScript.
  await buildDist();
  const benchEnv = serviceEnv(tmp, 'file:unused', 0);
  const config = loadConfig(benchEnv);
  // Older commits (compared through their JSON results) have no WEB_CONCURRENCY.
  const webConcurrency = (config as { webConcurrency?: number }).webConcurrency ?? 1;
  serviceProcesses = webConcurrency;
  const hashThreads = config.hashWorkers * webConcurrency;
  const commit = (() => {
    try {
      const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
      return dirty ? `${head}+dirty` : head;
    } catch {
      return 'unknown';
    }
  })();
  console.log(
    `auth-api bench: commit ${commit}, node ${process.version}, ${os.availableParallelism()} cores, ` +
      `WEB_CONCURRENCY=${webConcurrency}, ${config.hashWorkers} hash thread(s) per process, bcrypt cost ${config.bcryptCost}, ` +
      `${duration} s per scenario after ${warmup} s warm-up, ${connections} connections for reads; service: ${Object.entries(start.env).map(([name, value]) => `${name}=${value} `).join('')}node ${serviceArgv.join(' ')}`,
  );

  // Baselines, at the start and again at the end: the better of the two counts (noise only lowers them).
  type HashPool = {
    implementation?: { name: string; version: string; native: boolean; fallbackReason?: string };
    hashesPerSecond: number;
    msPerHash: number;
    cpuMsPerHash: number;
    peakRssMb: number;
  };
  /** The pool as the service runs it (BCRYPT_IMPLEMENTATION from the environment, else auto), or with another implementation. */
  const measureHashPool = async (implementation = config.bcryptImplementation): Promise<HashPool> => {
    await quiet();
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(HERE, 'hashPool.ts'), String(config.bcryptCost), String(hashThreads), String(duration), implementation],
      { cwd: ROOT, encoding: 'utf8' },
    );
    const result = JSON.parse(out.trim().split('\n').at(-1)!) as HashPool;
    // Commits before BCRYPT_IMPLEMENTATION report none: they hash with bcryptjs.
    const used = result.implementation ? `${result.implementation.name} ${result.implementation.version}` : 'bcryptjs';
    console.log(
      `  hashing pool alone (${hashThreads} threads, ${used}): ${result.hashesPerSecond.toFixed(2)} hashes/s ` +
        `(${result.msPerHash.toFixed(0)} ms a hash per thread, ${result.cpuMsPerHash.toFixed(1)} ms of CPU a hash)`,
    );
    return result;
  };
  const measureFloor = async (): Promise<Measured> => {
    const floorServer = await startFloor('floor');
    const floorSpec = spec('me', floorServer.url, [{ body: body(ME) }], '"me":{"id"');
    const result = await measure('floor: bare Yoga me (1 process)', floorServer, [floorSpec]);
    await floorServer.stop();
    console.log(`  bare Yoga answering a constant me (1 process): ${result.loads[0]!.rps.toFixed(0)} req/s`);
    return result;
  };
  const loginRequests = (password: string) =>
    Array.from({ length: 100 }, (_, i) => ({ body: body(LOGIN, { input: { email: userEmail(1000 + i), password } }) }));
  const loginSpec = (url: string) => spec('login', url, loginRequests(BENCH_PASSWORD), '"__typename":"User"', { connections: loginConnections });
  /** Logins that are nothing but the hash behind the same HTTP and GraphQL set-up, laid out as the service's processes and threads. */
  const measureLoginFloor = async (): Promise<Measured> => {
    const floorServer = await startFloor('login floor', {
      FLOOR_PROCESSES: String(webConcurrency),
      FLOOR_HASH_COST: String(config.bcryptCost),
      FLOOR_HASH_THREADS: String(config.hashWorkers),
      FLOOR_HASH_IMPLEMENTATION: config.bcryptImplementation,
      FLOOR_PASSWORD: BENCH_PASSWORD,
    });
    const result = await measure(`login floor: bare Yoga + hash pool (${webConcurrency} process(es))`, floorServer, [loginSpec(floorServer.url)], Math.max(warmup, 3));
    await floorServer.stop();
    console.log(`  bare Yoga answering login with one check on the hash pool: ${result.loads[0]!.rps.toFixed(2)} logins/s`);
    return result;
  };
  const logins = wanted('login');
  console.log(`\n[baselines] ${duration} s each`);
  const hashPools = [await measureHashPool()];
  // For comparison: the pure JavaScript fallback, which logins use where the native package cannot load.
  const fallbackPool = config.bcryptImplementation === 'bcryptjs' ? null : await measureHashPool('bcryptjs');
  const floors = [await measureFloor()];
  const loginFloors = logins ? [await measureLoginFloor()] : [];

  // The service on a fresh database with 10,000 users plus one admin.
  const passwordHash = bcrypt.hashSync(BENCH_PASSWORD, config.bcryptCost);
  let seconds = performance.now();
  const mainDatabase = await freshDatabase('main', seedCount, passwordHash);
  const seedMs = mainDatabase.seedSeconds * 1000;
  console.log(
    `\n[service] ${postgresUrl ? 'PostgreSQL' : 'SQLite'}: migrated and seeded ${seedCount} users + 1 admin in ${((performance.now() - seconds) / 1000).toFixed(1)} s`,
  );
  seconds = performance.now();
  const service = await startService('service', path.join(tmp, 'main'), mainDatabase.url);
  console.log(`  started in ${((performance.now() - seconds) / 1000).toFixed(1)} s (pids ${service.pids().join(', ')})`);

  const url = service.url;
  const adminCookie = await login(url, ADMIN_EMAIL);
  const userCookies = await Promise.all(Array.from({ length: connections }, (_, i) => login(url, userEmail(i + 1))));
  // Obtained now, used within ACCESS_TOKEN_TTL_SECONDS (the bearer scenarios run right after `me`).
  const eddsaTokens = await Promise.all(Array.from({ length: connections }, (_, i) => obtainAccessToken(url, userEmail(i + 1))));
  const hs256Tokens = await Promise.all(eddsaTokens.map(hs256Twin));
  const bearer = (tokens: string[]) => tokens.map((token) => ({ body: body(ME), headers: { authorization: `Bearer ${token}` } }));
  const firstPage = (await post(url, USERS, {}, { cookie: adminCookie })).json.data!.users;
  const page2After = firstPage.pageInfo.endCursor as string;
  const sampleId = Number(firstPage.edges.at(-1).node.id);

  const scenarios: [string, string, () => LoadSpec[], number?][] = [
    ['me', '1. me (session)', () => [spec('me', url, userCookies.map((cookie) => ({ body: body(ME), headers: { cookie } })), '"me":{"id"')], undefined],
    ['bearer', '1b. me (bearer HS256)', () => [spec('me', url, bearer(hs256Tokens), '"me":{"id"')], undefined],
    ['bearer', '1c. me (bearer EdDSA)', () => [spec('me', url, bearer(eddsaTokens), '"me":{"id"')], undefined],
    [
      'user',
      '2. user(id) staff',
      () => [
        spec(
          'user',
          url,
          Array.from({ length: 100 }, (_, i) => ({ body: body(USER, { id: String(2 + ((i * 97) % seedCount)) }) })),
          '"user":{"id"',
          { headers: { ...BASE_HEADERS, cookie: adminCookie } },
        ),
      ],
    ],
    [
      'users',
      '3. users page 2',
      () => [spec('users', url, [{ body: body(USERS, { after: page2After }) }], '"edges":[{', { headers: { ...BASE_HEADERS, cookie: adminCookie } })],
    ],
    ['login', '4. login valid', () => [loginSpec(url)], Math.max(warmup, 3)],
    [
      'wrong',
      '5. login wrong pw',
      () => [spec('wrong', url, loginRequests('Wrong-Horse-Battery-1'), '"__typename":"InvalidCredentialsError"', { connections: loginConnections })],
      Math.max(warmup, 3),
    ],
    [
      'register',
      '6. register',
      () => [
        spec('register', url, [{ body: body(REGISTER, { input: { email: 'new-[<id>]@bench.example', password: BENCH_PASSWORD, firstName: 'New' } }) }], '"__typename":"User"', {
          connections: loginConnections,
          uniqueIds: true,
        }),
      ],
      Math.max(warmup, 3),
    ],
    [
      'mixed',
      '7. mixed',
      () => [
        spec('me', url, userCookies.map((cookie) => ({ body: body(ME), headers: { cookie } })), '"me":{"id"'),
        loginSpec(url),
      ],
      Math.max(warmup, 3),
    ],
  ];
  // A fresh server runs slower until the JIT has compiled the hot paths: warm the reads up first.
  const warmUpReads = [scenarios[0]![2]()[0]!, scenarios[2]![2]()[0]!].map((one) => ({ ...one, duration: warmup * 2 }));
  await measure('warm-up', service, warmUpReads, 0);
  const measured: Measured[] = [];
  for (const [key, title, specs, warm] of scenarios) {
    if (!wanted(key)) continue;
    const built = specs();
    process.stdout.write(`  ${title} ... `);
    const result = await measure(title, service, built, warm);
    measured.push(result);
    console.log(result.loads.map((load) => `${load.name} ${load.rps.toFixed(1)} req/s p99 ${load.latency.p99} ms, ${load.errors} errors`).join('; '));
  }
  // Let queued logins finish: stopping would cut them off (their clients have gone).
  await quiet();
  const serviceExit = await service.stop();
  await dropDatabases();
  // The service logs at warn: anything but the expected note about mail is worth a look.
  const unexpected = service.output.filter((line) => !line.includes('SMTP_URL is not set'));

  // Scaling: the users page at several table sizes.
  const scaling: { users: number; seedSeconds: number; first: Measured; nearEnd: Measured }[] = [];
  if (wanted('scaling')) {
    console.log(`\n[scaling] users(first: 20), first page and a page near the end by cursor, ${scaleDuration} s each`);
    for (const size of sizes) {
      const sizeDir = path.join(tmp, `scale-${size}`);
      const { url: sizeUrl, seedSeconds } = await freshDatabase(`scale-${size}`, size, passwordHash);
      const server = await startService(`scale-${size}`, sizeDir, sizeUrl);
      const cookie = await login(server.url, ADMIN_EMAIL);
      const headers = { ...BASE_HEADERS, cookie };
      // The admin has id 1 and users ids 2..size+1 in join order: after id size-39 come twenty of the last forty.
      const nearEndAfter = cursorFor(page2After, sampleId, size + 1 - 40);
      const check = (await post(server.url, USERS, { after: nearEndAfter }, { cookie })).json.data!.users;
      if (check.edges.length !== 20 || !check.pageInfo.hasNextPage) throw new Error(`near-end page looks wrong: ${JSON.stringify(check.pageInfo)}`);
      const scaled = (name: string, variables: Record<string, unknown>) =>
        spec(name, server.url, [{ body: body(USERS, variables) }], '"edges":[{', { headers, duration: scaleDuration });
      // A fresh server runs slower until the JIT has compiled the hot paths: warm both pages up first.
      await measure('warm-up', server, [scaled('first', {}), scaled('nearEnd', { after: nearEndAfter })], 0);
      const first = await measure(`users first page @${size}`, server, [scaled('first', {})]);
      const nearEnd = await measure(`users near end @${size}`, server, [scaled('nearEnd', { after: nearEndAfter })]);
      await server.stop();
      fs.rmSync(sizeDir, { recursive: true, force: true });
      await dropDatabases();
      scaling.push({ users: size, seedSeconds, first, nearEnd });
      console.log(
        `  ${size.toLocaleString('en')} users (seeded in ${seedSeconds.toFixed(1)} s): first page ${first.loads[0]!.rps.toFixed(0)} req/s, near the end ${nearEnd.loads[0]!.rps.toFixed(0)} req/s`,
      );
    }
  }

  console.log(`\n[baselines] again`);
  hashPools.push(await measureHashPool());
  floors.push(await measureFloor());
  if (logins) loginFloors.push(await measureLoginFloor());
  const hashPool = hashPools.reduce((best, run) => (run.hashesPerSecond > best.hashesPerSecond ? run : best));
  const fastest = (runs: Measured[]) => runs.reduce((best, run) => (run.loads[0]!.rps > best.loads[0]!.rps ? run : best));
  const floor = fastest(floors);
  const loginFloor = logins ? fastest(loginFloors) : undefined;

  // Report.
  const byKey = (title: string) => measured.find((m) => m.scenario === title);
  const floorRps = floor.loads[0]!.rps;
  const percent = (ratio: number) => `${(ratio * 100).toFixed(0)}%`;
  const me = byKey('1. me (session)');
  const users = byKey('3. users page 2');
  const loginRun = byKey('4. login valid');
  const mixed = byKey('7. mixed');
  const largest = scaling.at(-1);
  const serviceRuns = [...measured, ...scaling.flatMap((s) => [s.first, s.nearEnd])];
  const peakRss = Math.max(...serviceRuns.map((m) => m.peakRssMb));
  type Target = { target: string; value: string; goal: string; met: boolean | null };
  const targets: Target[] = [];
  if (me) {
    const ratio = me.loads[0]!.rps / floorRps;
    targets.push({ target: 'me req/s / floor req/s', value: percent(ratio), goal: '>= 50%', met: ratio >= 0.5 });
  }
  if (users) {
    const ratio = users.loads[0]!.rps / floorRps;
    targets.push({ target: 'users page req/s / floor req/s', value: percent(ratio), goal: '>= 35%', met: ratio >= 0.35 });
  }
  if (largest) {
    // Time per page under the same closed-loop load is connections / req/s: compare req/s.
    const ratio = largest.first.loads[0]!.rps / largest.nearEnd.loads[0]!.rps;
    const atMillion = largest.users >= 1_000_000;
    targets.push({
      target: `near-end page time / first page @${largest.users.toLocaleString('en')}`,
      value: percent(ratio),
      goal: atMillion ? '<= 120%' : '<= 120% (at 1M: not run)',
      met: atMillion ? ratio <= 1.2 : null,
    });
  }
  const smallest = scaling[0];
  if (largest && smallest && largest !== smallest) {
    // Flat from the smallest table to the largest: the first page's time at each size.
    const ratio = smallest.first.loads[0]!.rps / largest.first.loads[0]!.rps;
    targets.push({
      target: `first page time @${largest.users.toLocaleString('en')} / @${smallest.users.toLocaleString('en')}`,
      value: percent(ratio),
      goal: '<= 120%',
      met: ratio <= 1.2,
    });
  }
  if (loginFloor) {
    const ratio = loginFloor.loads[0]!.rps / hashPool.hashesPerSecond;
    targets.push({ target: 'login floor req/s / hashing pool hashes/s', value: percent(ratio), goal: '(reference)', met: null });
  }
  if (loginRun) {
    const ratio = loginRun.loads[0]!.rps / hashPool.hashesPerSecond;
    targets.push({ target: 'login req/s / hashing pool hashes/s', value: percent(ratio), goal: '>= 95%', met: ratio >= 0.95 });
    if (loginFloor) {
      const ofFloor = loginRun.loads[0]!.rps / loginFloor.loads[0]!.rps;
      targets.push({ target: 'login req/s / login floor req/s', value: percent(ofFloor), goal: '(reference)', met: null });
    }
  }
  if (mixed) {
    const p99 = mixed.loads[0]!.latency.p99;
    targets.push({ target: 'mixed: me p99 while logins run', value: `${p99} ms`, goal: '< 50 ms', met: p99 < 50 });
  }
  if (serviceRuns.length > 0) {
    targets.push({ target: 'peak RSS of any service process', value: `${peakRss.toFixed(0)} MB`, goal: '< 150 MB', met: peakRss < 150 });
    const errors = serviceRuns.reduce((sum, m) => sum + m.loads.reduce((n, load) => n + load.errors, 0), 0);
    targets.push({ target: 'errors (every scenario)', value: String(errors), goal: '0', met: errors === 0 });
  }

  console.log(
    `\nScenarios: the service with WEB_CONCURRENCY=${webConcurrency} (${config.hashWorkers} hash thread(s) each); ` +
      `hashing pool alone ${hashPools.map((run) => run.hashesPerSecond.toFixed(2)).join(' / ')} hashes/s on ${hashThreads} thread(s); ` +
      `floor ${floors.map((run) => run.loads[0]!.rps.toFixed(0)).join(' / ')} req/s` +
      (logins ? `; login floor ${loginFloors.map((run) => run.loads[0]!.rps.toFixed(2)).join(' / ')} logins/s` : '') +
      ' (start / end; the better counts)\n',
  );
  const baselineRuns = loginFloor ? [floor, loginFloor] : [floor];
  console.log(table(scenarioRows([...baselineRuns, ...measured])));
  if (scaling.length > 0) {
    console.log('\nScaling: users(first: 20) selecting 5 fields and totalCount, first page and a page near the end (by cursor)\n');
    const rows = [['users', 'first req/s', 'p50', 'p99', 'cpu ms/req', 'near end req/s', 'p50', 'p99', 'cpu ms/req', 'near/first time', 'peak RSS MB']];
    for (const s of scaling) {
      const [f, n] = [s.first.loads[0]!, s.nearEnd.loads[0]!];
      rows.push([
        s.users.toLocaleString('en'),
        f.rps.toFixed(0),
        String(f.latency.p50),
        String(f.latency.p99),
        s.first.cpuMsPerRequest.toFixed(2),
        n.rps.toFixed(0),
        String(n.latency.p50),
        String(n.latency.p99),
        s.nearEnd.cpuMsPerRequest.toFixed(2),
        percent(f.rps / n.rps),
        Math.max(s.first.peakRssMb, s.nearEnd.peakRssMb).toFixed(1),
      ]);
    }
    console.log(table(rows));
  }
  console.log('\nTargets\n');
  console.log(table([['target', 'value', 'goal', 'met'], ...targets.map((t) => [t.target, t.value, t.goal, t.met === null ? 'n/a' : t.met ? 'met' : 'NOT MET'])]));
  if (loginRun) {
    // Logins at 95 % of the pool leave 5 % of a hash's CPU for everything else a login costs, the
    // load generator's share of the same cores included (docs/performance.md, sixth round).
    const beyondHash = (run: Measured, what: string) =>
      `${what} took ${(run.cpuMsPerRequest - hashPool.cpuMsPerHash).toFixed(1)} ms more of its server's CPU than a hash in the pool alone ` +
      `(its event loops ${run.eventLoopMsPerRequest.toFixed(1)} ms), and ${((run.loadGeneratorCpuPercent * 10) / run.loads[0]!.rps).toFixed(1)} ms of the load generator's`;
    console.log(
      `\n${beyondHash(loginRun, 'A login')}${loginFloor ? `; ${beyondHash(loginFloor, 'a login at the floor')}` : ''}. ` +
        `95 % of the pool leaves ${(hashPool.cpuMsPerHash * 0.05).toFixed(1)} ms for both.`,
    );
  }
  const noisy = [...baselineRuns, ...serviceRuns].filter((m) => m.otherCpuPercent > 10);
  if (postgresUrl) {
    console.log(`\nNote: "other cpu%" includes PostgreSQL's own processes, which do part of the service's work.`);
  } else if (noisy.length > 0) {
    console.log(
      `\nWARNING: other processes used CPU during ${noisy.map((m) => `${m.scenario} (${round(m.otherCpuPercent)}% of a core)`).join(', ')}; ` +
        'numbers there are low (ratios less so). Run again on an idle machine.',
    );
  }
  if (serviceExit !== 0 || unexpected.length > 0) {
    console.log(`\nThe service exited with ${serviceExit} and logged ${unexpected.length} warning(s) or error(s), the first:\n${unexpected.slice(0, 3).join('\n')}`);
  }

  const outDir = path.join(ROOT, 'bench-results');
  fs.mkdirSync(outDir, { recursive: true });
  const outFile = args.out ?? path.join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const result = {
    date: new Date().toISOString(),
    commit,
    node: process.version,
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model,
    database: postgresUrl ? 'postgresql' : 'sqlite',
    options: {
      duration,
      warmup,
      scaleDuration,
      sizes,
      seedCount,
      connections,
      loginConnections,
      webConcurrency,
      hashWorkersPerProcess: config.hashWorkers,
      bcryptCost: config.bcryptCost,
      quick,
    },
    seedMs,
    baselines: { hashPool, floor, loginFloor, hashPoolRuns: hashPools, bcryptjsHashPool: fallbackPool, floorRuns: floors, loginFloorRuns: loginFloors },
    scenarios: measured,
    scaling,
    targets,
    serviceExitCode: serviceExit,
    serviceWarnings: unexpected,
    totalSeconds: (Date.now() - runStarted) / 1000,
  };
  fs.writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), outFile)} (${result.totalSeconds.toFixed(0)} s in all)`);
}

function cleanup() {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
}

process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});
main()
  .then(() => cleanup())
  .catch(async (error) => {
    console.error(error);
    cleanup();
    await dropDatabases().catch(() => undefined);
    process.exit(1);
  });
