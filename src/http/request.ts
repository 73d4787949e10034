import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Session, SessionData } from 'express-session';
import proxyaddr from 'proxy-addr';
import { sessionKey, type Credential } from '../sessions.ts';
import type { ClientInfo } from '../tokens.ts';

/** A request as the pipeline prepares it for express-session, Yoga and the resolvers. */
export interface HttpRequest extends IncomingMessage {
  /** The client's address, as seen through the trusted proxies (TRUST_PROXY). */
  ip: string | undefined;
  /** Whether the client spoke HTTPS (to a trusted proxy): express-session sets Secure cookies only then. */
  secure: boolean;
  /** The buffered body, which Yoga reads instead of the (consumed) stream. */
  body?: Buffer;
  /** Set by express-session. */
  session: Session & Partial<SessionData>;
  sessionID: string;
}

export type HttpResponse = ServerResponse;

/** The server context Yoga hands to the GraphQL context and plugins. */
export interface ServerContext {
  req: HttpRequest;
  res: HttpResponse;
}

export type TrustProxy = boolean | number | string;

/** Which hops may say who the client is, with express's meaning of the TRUST_PROXY values. */
export function compileTrust(trust: TrustProxy): (address: string, hop: number) => boolean {
  if (trust === true) return () => true;
  if (trust === false) return () => false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyaddr.compile(trust.split(',').map((entry) => entry.trim()));
}

/** Sets `ip` and `secure` from the connection and, when it comes from a trusted proxy, its X-Forwarded headers. */
export function identifyClient(req: IncomingMessage, trust: (address: string, hop: number) => boolean): asserts req is HttpRequest {
  const request = req as HttpRequest;
  // Without X-Forwarded-For the socket's peer is the client, whoever is trusted: proxy-addr would
  // parse its address for nothing.
  request.ip = req.headers['x-forwarded-for'] === undefined ? req.socket.remoteAddress : proxyaddr(req, trust);
  const encrypted = 'encrypted' in req.socket && req.socket.encrypted === true;
  const forwarded = req.headers['x-forwarded-proto'];
  const fromProxy = !encrypted && typeof forwarded === 'string' && trustedPeer(req.socket, trust);
  request.secure = fromProxy ? forwarded.split(',')[0]!.trim().toLowerCase() === 'https' : encrypted;
}

/** Whether the socket's peer is a trusted proxy, decided once per connection (keep-alive carries many requests). */
const peers = new WeakMap<Socket, boolean>();
function trustedPeer(socket: Socket, trust: (address: string, hop: number) => boolean): boolean {
  let trusted = peers.get(socket);
  if (trusted === undefined) peers.set(socket, (trusted = trust(socket.remoteAddress ?? '', 0)));
  return trusted;
}

const MAX_USER_AGENT_LENGTH = 512;

export function clientInfo(req: HttpRequest): ClientInfo {
  const userAgent = req.headers['user-agent'];
  return { userAgent: userAgent?.slice(0, MAX_USER_AGENT_LENGTH) ?? null, ipAddress: req.ip ?? null };
}

/** The session cookie's attributes, for setting it (with Max-Age) and for clearing it. */
export function sessionCookieOptions(production: boolean) {
  return { httpOnly: true, sameSite: 'lax', secure: production, path: '/' } as const;
}

/** The browser's side of the request's cookie session: starting one at sign-in, ending it at sign-out. */
export interface CookieSession {
  /** The user of the session the request came with, if it is signed in. */
  readonly userId: number | undefined;
  /** Starts a signed-in session under a new id, so an id planted before sign-in is useless. */
  start(userId: number): Promise<Credential>;
  /** Ends the request's session, if signed in, and tells the browser to forget its cookie. */
  end(): Promise<void>;
}

function callback(run: (done: (error?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => run((error) => (error ? reject(error) : resolve())));
}

export function cookieSession(server: ServerContext, cookie: { name: string; production: boolean }): CookieSession {
  return new RequestCookieSession(server, cookie);
}

/** A class, so that every request's handle shares one `userId` getter rather than defining its own. */
class RequestCookieSession implements CookieSession {
  constructor(
    private readonly server: ServerContext,
    private readonly cookie: { name: string; production: boolean },
  ) {}

  get userId(): number | undefined {
    return this.server.req.session?.userId;
  }

  async start(userId: number): Promise<Credential> {
    const { req } = this.server;
    await callback((done) => req.session.regenerate(done));
    Object.assign(req.session, { userId, ...clientInfo(req) });
    await callback((done) => req.session.save(done));
    return { kind: 'cookie', sessionKey: sessionKey(req.sessionID) };
  }

  async end(): Promise<void> {
    const { req, res } = this.server;
    if (!req.session?.userId) return;
    await callback((done) => req.session.destroy(done));
    res.appendHeader('Set-Cookie', clearedCookie(this.cookie.name, sessionCookieOptions(this.cookie.production)));
  }
}

function clearedCookie(name: string, options: ReturnType<typeof sessionCookieOptions>): string {
  const attributes = [`Path=${options.path}`, 'Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'HttpOnly', 'SameSite=Lax'];
  if (options.secure) attributes.push('Secure');
  return [`${name}=`, ...attributes].join('; ');
}
