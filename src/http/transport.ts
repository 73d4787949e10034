import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/**
 * Cross-origin answers for the origins in CORS_ORIGINS, and nothing for any other: an unlisted
 * origin (`null`, the origin of sandboxed frames and local files, included) gets no CORS header at
 * all, so its browser withholds the answer. With origins configured, every answer depends on the
 * Origin header and says so (`Vary: Origin`), so a shared cache never hands one origin's answer to
 * another. Preflights are answered here, before the body or the session is read: the returned
 * function says whether it answered the request.
 */
export function corsHeaders(origins: string[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  const allowed = new Set(origins);
  return (req, res) => {
    if (allowed.size === 0) return false;
    const origin = req.headers.origin;
    const listed = origin !== undefined && allowed.has(origin);
    if (listed) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method !== 'OPTIONS') {
      res.setHeader('Vary', 'Origin');
      return false;
    }
    res.setHeader('Vary', 'Origin, Access-Control-Request-Headers');
    if (listed) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
      const requested = req.headers['access-control-request-headers'];
      if (requested) res.setHeader('Access-Control-Allow-Headers', requested);
      res.setHeader('Access-Control-Max-Age', '600');
    }
    // Safari waits for a body on a 204 without a length.
    res.writeHead(204, { 'Content-Length': '0' }).end();
    return true;
  };
}

/** Whether a Content-Type header names JSON exactly (parameters such as charset allowed). */
export function isJsonContentType(contentType: string | null): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}

/**
 * The CSRF rule: a request that is not `Content-Type: application/json` must carry one of
 * `headers`, which a cross-site form, image or link cannot send without a CORS preflight. Yoga's
 * own plugin lists the content types a form can send and lets every other through, so a POST of
 * `application/graphql` ran with the victim's cookie; this one lets only JSON through.
 */
export function useCsrfRule(headers: string[]): Plugin {
  return {
    onRequestParse({ request }) {
      if (isJsonContentType(request.headers.get('content-type'))) return;
      if (headers.some((name) => request.headers.has(name))) return;
      throw createGraphQLError(
        `A request that is not Content-Type: application/json must carry one of these headers: ${headers.join(', ')}.`,
        { extensions: { http: { status: 403 } } },
      );
    },
  };
}

/**
 * Yoga parses the `variables` and `extensions` of a GET (or form) request with a bare JSON.parse,
 * and a SyntaxError from it was answered as an internal error: it is the client's, a 400.
 */
export function useBadRequestOnMalformedParameters(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          if (!(error instanceof SyntaxError)) throw error;
          throw createGraphQLError(`${malformedParameter(request)} is not valid JSON: ${error.message}`, {
            extensions: { http: { status: 400 }, code: 'BAD_REQUEST' },
          });
        }
      });
    },
  };
}

function malformedParameter(request: Request): string {
  if (request.method !== 'GET') return 'A parameter';
  const parameters = new URL(request.url).searchParams;
  for (const name of ['variables', 'extensions']) {
    const value = parameters.get(name);
    if (!value) continue;
    try {
      JSON.parse(value);
    } catch {
      return `The ${name} parameter`;
    }
  }
  return 'A parameter';
}
