// A fetch for client libraries under test: keeps cookies as a browser does and records every request.

/** One request as the server saw it, and what it answered. */
export interface Sent {
  operationName: string | null;
  method: string;
  authorization: string | null;
  csrfHeader: string | null;
  contentType: string | null;
  status: number;
  /** `__typename` of the operation's root field, when it has one. */
  typename: string | undefined;
  /** Whether the document's text was sent (not just its hash). */
  sentText: boolean;
  /** The hash of a persisted (trusted) document the request named, if any. */
  documentHash: string | undefined;
  errorCodes: unknown[];
}

/**
 * A `fetch` that records every request and, like a browser, keeps the cookies the server sets
 * and sends them back (when `jar` is on).
 */
export function browserishFetch({ jar = true } = {}) {
  const cookies = new Map<string, string>();
  const sent: Sent[] = [];
  const fetchWithJar: typeof fetch = async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const headers = new Headers(init.headers);
    if (jar && cookies.size > 0) headers.set('cookie', [...cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers });
    for (const setCookie of response.headers.getSetCookie()) {
      const [pair, ...attributes] = setCookie.split(';');
      const [name, value = ''] = pair!.trim().split('=') as [string, string?];
      const expired = attributes.some((attribute) => /^\s*expires=Thu, 01 Jan 1970/i.test(attribute));
      if (expired || value === '') cookies.delete(name);
      else if (jar) cookies.set(name, value);
    }
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : {};
    const result = await response.clone().json().catch(() => ({}));
    // The operation's root field (the documents also select the root's own __typename).
    const data = result.data ? Object.entries(result.data).find(([field]) => field !== '__typename')?.[1] : undefined;
    sent.push({
      operationName: body.operationName ?? url.searchParams.get('operationName'),
      method: init.method ?? 'GET',
      authorization: headers.get('authorization'),
      csrfHeader: headers.get('graphql-require-preflight'),
      contentType: headers.get('content-type'),
      status: response.status,
      typename: (data as { __typename?: string } | null | undefined)?.__typename,
      sentText: typeof (body.query ?? url.searchParams.get('query')) === 'string',
      documentHash: body.extensions?.persistedQuery?.sha256Hash ?? JSON.parse(url.searchParams.get('extensions') ?? '{}').persistedQuery?.sha256Hash,
      errorCodes: (result.errors ?? []).map((error: { extensions?: { code?: unknown } }) => error.extensions?.code),
    });
    return response;
  };
  return { fetch: fetchWithJar, cookies, sent, named: (name: string) => sent.filter((request) => request.operationName === name) };
}
