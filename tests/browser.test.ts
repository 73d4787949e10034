// A real browser against the running service: GraphiQL at /graphql, and CORS from other origins.
// Debian's Chromium, driven by playwright-core (CI: apt-get install -y chromium).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_PASSWORD, type TestApp } from './helpers/app.ts';

const CHROMIUM = '/usr/bin/chromium';
const CI = process.env.CI === 'true';
const SCREENSHOT = path.resolve('artifacts', 'graphiql.png');

const chromiumMissing = fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing: apt-get install -y chromium`;
if (chromiumMissing && !CI) console.warn(`Skipping the browser tests: ${chromiumMissing}`);

/** A frontend on its own origin whose script signs in to the API with a credentialed fetch. */
const FRONTEND_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>frontend</title>
<pre id="out"></pre>
<script type="module">
  const params = new URLSearchParams(location.search);
  async function graphql(query, variables) {
    const response = await fetch(params.get('api'), {
      method: 'POST',
      credentials: 'include',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()).data;
  }
  let outcome;
  try {
    const input = { email: params.get('email'), password: params.get('password') };
    const login = await graphql('mutation ($input: LoginInput!) { login(input: $input) { __typename } }', { input });
    const me = await graphql('{ me { email } }');
    // As urql sends queries: a GET, with a CSRF header (which needs a preflight of its own).
    const get = await fetch(params.get('api') + '?query=' + encodeURIComponent('{ me { email } }'), {
      credentials: 'include',
      headers: { 'graphql-require-preflight': '1' },
    });
    outcome = { login: login.login, me: me.me, meByGet: (await get.json()).data.me };
  } catch (error) {
    outcome = { error: String(error) };
  }
  document.getElementById('out').textContent = JSON.stringify(outcome);
</script>`;

async function serveFrontend(): Promise<{ origin: string; server: http.Server }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(FRONTEND_PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const skip = chromiumMissing !== null && !CI;
describe.skipIf(skip)(skip ? `in Chromium (skipped: ${chromiumMissing})` : 'in Chromium', () => {
  let app: TestApp;
  let browser: Browser;
  let listed: Awaited<ReturnType<typeof serveFrontend>>;
  let unlisted: Awaited<ReturnType<typeof serveFrontend>>;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (chromiumMissing) throw new Error(`The browser tests need Chromium: ${chromiumMissing}`);
    [listed, unlisted] = await Promise.all([serveFrontend(), serveFrontend()]);
    // Development mode (GraphiQL on), one frontend origin allowed.
    app = await startTestApp({ CORS_ORIGINS: listed.origin });
    // launch() starts from a fresh, temporary user data directory.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    for (const frontend of [listed, unlisted]) {
      if (frontend) await new Promise((resolve) => frontend.server.close(resolve));
    }
    await app?.stop();
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    contexts.push(context);
    return { context, page: await context.newPage() };
  }

  it(
    'runs login and me through GraphiQL’s editor at /graphql and shows the results',
    async () => {
      const { email } = await app.createUser({ email: 'graphiql@example.com' });
      const { context, page } = await newPage();
      // The page must need nothing from outside: an offline machine has no CDN.
      const outside: string[] = [];
      await context.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (url.origin === app.url || url.protocol === 'blob:' || url.protocol === 'data:') return route.continue();
        outside.push(url.href);
        return route.abort();
      });
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));

      await page.goto(`${app.url}/graphql`);
      // GraphiQL 5: the editors are Monaco editors.
      const queryEditor = page.locator('.graphiql-query-editor .monaco-editor');
      await queryEditor.locator('.view-lines').waitFor({ timeout: 30_000 });
      const text = async (selector: string) =>
        (await page.locator(`${selector} .view-lines`).innerText()).replace(/\u00a0/g, ' ').trim();

      /** Replaces the operation in the editor, runs it and returns what the response pane shows. */
      async function run(operation: string, how: 'button' | 'keyboard') {
        const before = await text('.graphiql-response');
        await queryEditor.click();
        await page.keyboard.press('Control+A');
        await page.keyboard.press('Backspace');
        // One line, inserted at once, so that Monaco's auto-closing brackets stay out of the way.
        await page.keyboard.insertText(operation);
        // Monaco renders on its next animation frame: on a busy machine the lines lag the keys.
        await expect.poll(() => text('.graphiql-query-editor'), { timeout: 10_000 }).toBe(operation);
        await page.getByRole('button', { name: /^Prettify query/ }).click();
        if (how === 'button') {
          await page.getByRole('button', { name: /^Execute query/ }).click();
        } else {
          await queryEditor.click();
          await page.keyboard.press('Control+Enter');
        }
        let shown = '';
        const answered = async () => {
          shown = await text('.graphiql-response');
          return shown !== before && /^\{[\s\S]*\}$/.test(shown);
        };
        await expect.poll(answered, { timeout: 15_000, message: 'GraphiQL shows a new result' }).toBe(true);
        return JSON.parse(shown);
      }

      try {
        const login = await run(
          `mutation { login(input: {email: "${email}", password: "${TEST_PASSWORD}"}) { __typename ... on User { email } ... on Error { message } } }`,
          'button',
        );
        expect(login).toEqual({ data: { login: { __typename: 'User', email } } });
        // GraphiQL sends credentials, so the session cookie it got by login signs in what follows.
        expect(await run('query { me { email isStaff } }', 'keyboard')).toEqual({ data: { me: { email, isStaff: false } } });
        const [cookie] = await context.cookies(app.url);
        expect(cookie).toMatchObject({ name: 'sid', httpOnly: true, sameSite: 'Lax' });
      } finally {
        fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT });
      }
      expect(pageErrors).toEqual([]);
      expect(outside).toEqual([]);
    },
    60_000,
  );

  async function signInFrom(origin: string, email: string) {
    const { page } = await newPage();
    const query = new URLSearchParams({ api: `${app.url}/graphql`, email, password: TEST_PASSWORD });
    await page.goto(`${origin}/?${query}`);
    const out = page.locator('#out');
    await expect.poll(() => out.textContent(), { timeout: 15_000 }).not.toBe('');
    return JSON.parse((await out.textContent())!);
  }

  it('lets a frontend on an origin listed in CORS_ORIGINS sign in with a credentialed fetch', async () => {
    const { email } = await app.createUser({ email: 'cors-listed@example.com' });
    expect(await signInFrom(listed.origin, email)).toEqual({ login: { __typename: 'User' }, me: { email }, meByGet: { email } });
  });

  it('refuses a frontend on an origin that is not listed: its fetch rejects and no one signs in', async () => {
    const { id, email } = await app.createUser({ email: 'cors-unlisted@example.com' });
    expect(await signInFrom(unlisted.origin, email)).toEqual({ error: expect.stringMatching(/Failed to fetch/) });
    expect(await app.services.prisma.session.count({ where: { userId: id } })).toBe(0);
  });
});
