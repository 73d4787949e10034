import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';

/** Hash → document text, as GraphQL Code Generator's client preset writes `persisted-documents.json`. */
export type TrustedDocuments = ReadonlyMap<string, string>;

/** A SHA-256 in hex, plain or prefixed `sha256:` (as the client preset writes its keys and `__meta__.hash`). */
const SHA256 = /^(?:sha256:)?([0-9a-f]{64})$/;

/** The plain hex hash of `sha256:<hex>` or `<hex>`, or null. */
export function plainHash(value: string): string | null {
  return SHA256.exec(value)?.[1] ?? null;
}

export class TrustedDocumentsError extends Error {
  override name = 'TrustedDocumentsError';
}

/**
 * Reads and checks a manifest `{ "<sha256 hex>": "<document>" }`: every key must be the SHA-256 of
 * its document, and every document must parse, so that a wrong or stale file stops start-up
 * instead of refusing the clients' requests one by one.
 */
export function readTrustedDocuments(file: string): TrustedDocuments {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new TrustedDocumentsError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new TrustedDocumentsError(`${file} is not JSON: ${(error as Error).message}`);
  }
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) {
    throw new TrustedDocumentsError(`${file} must be a JSON object of { "<sha256 hash>": "<document>" }`);
  }
  // Loaded only when there is a manifest: configuration is read by a cluster's primary too, which
  // serves nothing and otherwise loads no GraphQL (~10 MB).
  const { parse } = createRequire(import.meta.url)('graphql/language/parser.js') as typeof import('graphql/language/parser.js');
  const documents = new Map<string, string>();
  for (const [key, document] of Object.entries(manifest)) {
    const hash = plainHash(key);
    if (hash === null) throw new TrustedDocumentsError(`${file}: "${key.slice(0, 80)}" is not a SHA-256 hash in lower-case hex`);
    if (typeof document !== 'string') throw new TrustedDocumentsError(`${file}: the document of ${hash} is not a string`);
    if (createHash('sha256').update(document).digest('hex') !== hash) {
      throw new TrustedDocumentsError(`${file}: ${hash} is not the SHA-256 of its document`);
    }
    try {
      parse(document);
    } catch (error) {
      throw new TrustedDocumentsError(`${file}: the document of ${hash} is not GraphQL: ${(error as Error).message}`);
    }
    documents.set(hash, document);
  }
  if (documents.size === 0) throw new TrustedDocumentsError(`${file} holds no documents`);
  return documents;
}
