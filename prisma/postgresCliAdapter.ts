import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';

// Prisma 6.19's pg adapter cannot read columns of type `name` (oid 19) or `"char"` (oid 18),
// which every introspecting CLI command (migrate deploy included) selects from the catalogs
// (prisma/orm#27403). They are text on the wire, so they are reported as text (oid 25). Remove
// this adapter when #27403 is fixed in the pinned Prisma version: `prisma migrate deploy` on
// PostgreSQL then succeeds with a plain PrismaPg (docs/prisma-offline.md).
const CATALOG_TEXT_OIDS = new Set([18, 19]);
const TEXT_OID = 25;

type QueryResult = { fields?: { dataTypeID: number }[] };

function reportAsText<T>(result: T): T {
  for (const field of (result as QueryResult)?.fields ?? []) {
    if (CATALOG_TEXT_OIDS.has(field.dataTypeID)) field.dataTypeID = TEXT_OID;
  }
  return result;
}

function patchClient(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const callback = args.at(-1);
    if (typeof callback === 'function') {
      return query(...args.slice(0, -1), (error: unknown, result: unknown) => callback(error, error ? result : reportAsText(result)));
    }
    const pending = query(...args);
    return pending instanceof Promise ? pending.then(reportAsText) : pending;
  };
}

/** The pg adapter for the Prisma CLI, with catalog columns readable and migration scripts sent whole. */
export function postgresCliAdapter(connectionString: string): PrismaPg {
  const pool = new pg.Pool({ connectionString, max: 2, idleTimeoutMillis: 50, allowExitOnIdle: true });
  pool.on('connect', patchClient);
  const factory = new PrismaPg(pool);
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter = await connect();
    // @prisma/adapter-pg 6.19 runs a migration script as `script.split(";")`, each piece on
    // whichever pooled connection is free, which cuts a PL/pgSQL body (and a comment with a `;`)
    // apart and lets BEGIN and COMMIT land on different connections. PostgreSQL takes the whole
    // script as one simple query on one connection. No upstream issue tracks it yet; remove this
    // once the pinned adapter's `executeScript` no longer splits (the migration `row_counts`
    // then applies without it, which every PostgreSQL test run does on its first migration).
    const fail = (adapter as unknown as { onError(error: unknown): never }).onError.bind(adapter);
    adapter.executeScript = async (script: string) => {
      await pool.query(script).catch(fail);
    };
    return adapter;
  };
  return factory;
}
