// Passkeys in a real Chromium with the DevTools protocol's virtual authenticator, on a frontend page
// served from an allowed origin on localhost that calls the API with @simplewebauthn/browser.
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';
import { print } from 'graphql';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { startTestApp, TEST_PASSWORD, type TestApp } from './app.ts';
import { freePort } from './server.ts';
import { Login } from '../operations/auth.ts';
import { FinishPasskeyRegistration, StartPasskeyRegistration } from '../operations/secondFactor.ts';

const CHROMIUM = '/usr/bin/chromium';
const CI = process.env.CI === 'true';
/** Why the passkey tests cannot run here, or null. */
export const chromiumMissing = fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing: apt-get install -y chromium`;
/** Outside CI a machine without Chromium skips the passkey tests; CI runs them (and fails without it). */
export const skipPasskeyTests = chromiumMissing !== null && !CI;
if (skipPasskeyTests) console.warn(`Skipping the passkey tests: ${chromiumMissing}`);

// The package's browser build (its exports name only the module entries).
const BROWSER_BUNDLE = path.join(path.dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js');
const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..');

/**
 * examples/apollo.ts and examples/urql.ts built for the browser, as a frontend's bundler would,
 * into the global `examples` (`examples.apollo`, `examples.urql`: each module's exports).
 */
async function examplesBundle(): Promise<string> {
  const result = await build({
    absWorkingDir: PROJECT_ROOT,
    stdin: {
      contents: `export * as apollo from './examples/apollo.ts';\nexport * as urql from './examples/urql.ts';\n`,
      resolveDir: PROJECT_ROOT,
      loader: 'ts',
      sourcefile: 'examples-entry.ts',
    },
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'examples',
    platform: 'browser',
    target: 'chrome120',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  return result.outputFiles[0]!.text;
}

/**
 * The frontend: `gql()` posts a document to the API with the browser's cookies, the
 * @simplewebauthn/browser bundle is loaded as the global SimpleWebAuthnBrowser, and with
 * `examples` the example clients as the global `examples`.
 */
function page(examples: boolean): string {
  return `<!doctype html>
<meta charset="utf-8">
<title>frontend</title>
<script src="/simplewebauthn-browser.js"></script>
${examples ? '<script src="/examples.js"></script>' : ''}
<script>
  window.gql = async (api, query, variables, token) => {
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    const response = await fetch(api, { method: 'POST', credentials: 'include', headers, body: JSON.stringify({ query, variables }) });
    return response.json();
  };
</script>`;
}

async function serveFrontend(port: number, examples: string | null): Promise<http.Server> {
  const bundle = fs.readFileSync(BROWSER_BUNDLE);
  const html = page(examples !== null);
  const server = http.createServer((req, res) => {
    if (req.url === '/simplewebauthn-browser.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else if (req.url === '/examples.js' && examples !== null) res.writeHead(200, { 'content-type': 'text/javascript' }).end(examples);
    else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

const AUTHENTICATOR = {
  protocol: 'ctap2',
  transport: 'internal',
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
} as const;

export interface PasskeyBrowser {
  app: TestApp;
  browser: Browser;
  /** The API's /graphql on localhost (the pages' site). */
  api: string;
  /** A frontend origin in CORS_ORIGINS and WEBAUTHN_ORIGINS. */
  allowed: string;
  /** A frontend origin in CORS_ORIGINS only. */
  notAllowed: string;
  /** A new browser context (closed by `stop`). */
  context(): Promise<BrowserContext>;
  /** A browser tab on `origin` with its own virtual platform authenticator (ctap2, internal, resident keys, user verification). */
  tab(origin?: string): Promise<{ page: Page; cdp: CDPSession; authenticatorId: string }>;
  /** Runs a typed document from the page (cookies of its browser context). */
  gql<TData>(page: Page, document: { __apiType?: unknown } & object, variables?: object, token?: string): Promise<{ data: TData; errors?: { extensions?: { code?: string } }[] }>;
  /** Registers a passkey for the page's signed-in user with its authenticator. */
  register(page: Page, name?: string): Promise<any>;
  /** What the authenticator answers to request options. */
  authenticate(page: Page, options: any): Promise<any>;
  /** A tab signed in with the password as a new user. */
  signedInTab(email: string): Promise<{ page: Page; cdp: CDPSession; authenticatorId: string; userId: number }>;
  stop(): Promise<void>;
}

/**
 * Starts the API (with WebAuthn for the `allowed` origin), two frontend servers and Chromium.
 * With `examples`, the pages also load the example clients as the global `examples`.
 */
export async function startPasskeyBrowser({ examples = false }: { examples?: boolean } = {}): Promise<PasskeyBrowser> {
  if (chromiumMissing) throw new Error(`The passkey tests need Chromium: ${chromiumMissing}`);
  const servers: http.Server[] = [];
  const contexts: BrowserContext[] = [];
  const bundle = examples ? await examplesBundle() : null;
  const [allowedPort, otherPort] = [await freePort(), await freePort()];
  servers.push(await serveFrontend(allowedPort, bundle), await serveFrontend(otherPort, bundle));
  // localhost is a secure context over http, so WebAuthn works there; both pages and the API are
  // on the site "localhost", so the API's SameSite=Lax cookie goes with their fetches.
  const allowed = `http://localhost:${allowedPort}`;
  const notAllowed = `http://localhost:${otherPort}`;
  const app = await startTestApp({
    CORS_ORIGINS: `${allowed},${notAllowed}`,
    WEBAUTHN_RP_ID: 'localhost',
    WEBAUTHN_ORIGINS: allowed,
    WEBAUTHN_RP_NAME: 'Passkey Test',
  });
  const api = `${app.url.replace('127.0.0.1', 'localhost')}/graphql`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });

  async function context(): Promise<BrowserContext> {
    const created = await browser.newContext();
    contexts.push(created);
    return created;
  }

  async function tab(origin = allowed) {
    const opened = await context();
    const page = await opened.newPage();
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => 'SimpleWebAuthnBrowser' in window);
    const cdp = await opened.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: AUTHENTICATOR });
    return { page, cdp, authenticatorId };
  }

  async function gql<TData>(page: Page, document: { __apiType?: unknown } & object, variables: object = {}, token?: string) {
    return page.evaluate(([url, query, vars, bearer]) => (window as any).gql(url, query, vars, bearer), [api, print(document as never), variables, token] as const) as Promise<{
      data: TData;
      errors?: { extensions?: { code?: string } }[];
    }>;
  }

  async function register(page: Page, name?: string) {
    const started = (await gql<any>(page, StartPasskeyRegistration)).data.startPasskeyRegistration;
    const response = await page.evaluate((optionsJSON) => (window as any).SimpleWebAuthnBrowser.startRegistration({ optionsJSON }), started.options);
    return (await gql<any>(page, FinishPasskeyRegistration, { input: { challenge: started.challenge, response, name } })).data.finishPasskeyRegistration;
  }

  function authenticate(page: Page, options: any) {
    return page.evaluate((optionsJSON) => (window as any).SimpleWebAuthnBrowser.startAuthentication({ optionsJSON }), options);
  }

  async function signedInTab(email: string) {
    const { id } = await app.createUser({ email });
    const opened = await tab();
    const login = (await gql<any>(opened.page, Login, { input: { email, password: TEST_PASSWORD } })).data.login;
    expect(login.__typename).toBe('User');
    return { ...opened, userId: id };
  }

  async function stop() {
    for (const opened of contexts) await opened.close().catch(() => undefined);
    await browser.close();
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
    await app.stop();
  }

  return { app, browser, api, allowed, notAllowed, context, tab, gql, register, authenticate, signedInTab, stop };
}
