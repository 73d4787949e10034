import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { freePort } from './server.ts';

const MAIL_TIMEOUT_MS = 5_000;

export interface ReceivedMail {
  envelopeTo: string[];
  headers: Map<string, string>;
  /** The plain-text part (the whole body of a single-part mail). */
  body: string;
  /** The HTML part, when the mail has one. */
  html: string | null;
}

function decodeQuotedPrintable(text: string): string {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i += 1) {
    const hex = joined.slice(i + 1, i + 3);
    if (joined[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Headers (names lower-cased, folded lines joined) and the raw body of a message or MIME part. */
function splitEntity(raw: string): { headers: Map<string, string>; rawBody: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, rawBody: raw.slice(split + 4) };
}

function decodeBody(headers: Map<string, string>, rawBody: string): string {
  const encoding = headers.get('content-transfer-encoding')?.toLowerCase();
  return encoding === 'quoted-printable'
    ? decodeQuotedPrintable(rawBody)
    : encoding === 'base64'
      ? Buffer.from(rawBody, 'base64').toString('utf8')
      : rawBody;
}

/** Enough of MIME for what the service sends: one text part, or multipart/alternative text + HTML. */
export function parseMail(raw: string, envelopeTo: string[]): ReceivedMail {
  const { headers, rawBody } = splitEntity(raw);
  const boundary = /boundary="?([^";]+)"?/i.exec(headers.get('content-type') ?? '')?.[1];
  if (!boundary) return { envelopeTo, headers, body: decodeBody(headers, rawBody), html: null };
  const parts = rawBody
    .split(`--${boundary}`)
    .slice(1)
    .filter((part) => !part.startsWith('--'))
    .map((part) => splitEntity(part.replace(/^\r\n/, '')));
  const find = (type: string) => {
    const part = parts.find((candidate) => candidate.headers.get('content-type')?.toLowerCase().startsWith(type));
    return part ? decodeBody(part.headers, part.rawBody.replace(/\r\n$/, '')) : null;
  };
  return { envelopeTo, headers, body: find('text/plain') ?? '', html: find('text/html') };
}

export type Mailbox = Awaited<ReturnType<typeof startMailbox>>;

/** A real SMTP server on a loopback port (a free one, or `port`) that keeps every message it receives. */
export async function startMailbox(port = 0) {
  const received: ReceivedMail[] = [];
  const consumed = new Set<ReceivedMail>();
  const waiters = new Set<() => void>();
  let gate = Promise.resolve();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const envelopeTo = session.envelope.rcptTo.map((rcpt) => rcpt.address);
        void gate.then(() => {
          received.push(parseMail(Buffer.concat(chunks).toString('utf8'), envelopeTo));
          for (const wake of waiters) wake();
          callback();
        });
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    port: (server.server.address() as AddressInfo).port,
    received,
    /** Every mail received for `to` so far. */
    to: (to: string) => received.filter((mail) => mail.headers.get('to') === to),
    /** The next mail to `to` not yet returned by this function; rejects after a bounded wait. */
    next(to: string, timeoutMs = MAIL_TIMEOUT_MS): Promise<ReceivedMail> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const mail = received.find((candidate) => !consumed.has(candidate) && candidate.headers.get('to') === to);
          if (!mail) return false;
          consumed.add(mail);
          waiters.delete(check);
          clearTimeout(timer);
          resolve(mail);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no mail to ${to} within ${timeoutMs} ms`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    /** Holds every message's acceptance until the returned function is called. */
    hold(): () => void {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => release();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A loopback port nothing listens on: an SMTP server that is down. */
export const closedPort = freePort;

/** The token of the first link in `text` that starts with `prefix` (a URL template up to `{token}`). */
export function linkToken(text: string, prefix: string): string {
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`${escaped}([A-Za-z0-9_%.~-]+)`).exec(text);
  if (!match) throw new Error(`no link starting with ${prefix} in:\n${text}`);
  return decodeURIComponent(match[1]!);
}

/** Polls captured log lines until one matches, for at most `timeoutMs`. */
export async function waitForLogEntry(lines: string[], predicate: (entry: any) => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const entry = lines.map((line) => JSON.parse(line)).find(predicate);
    if (entry) return entry;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no matching log entry within ${timeoutMs} ms; got:\n${lines.join('')}`);
}
