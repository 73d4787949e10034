import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { applyMigrations } from '../../src/migrate.ts';
import { buildDist } from '../../scripts/build.ts';
import { createPostgresDatabase, dropPostgresDatabase, TEMPLATE_DATABASE, testServerUrl } from './databases.ts';

/**
 * Builds dist/ for the tests that start real server processes, and migrates one template database;
 * every test app starts from a copy of it.
 */
export default async function setup(project: TestProject) {
  await buildDist();
  if (testServerUrl) {
    await dropPostgresDatabase(TEMPLATE_DATABASE);
    await applyMigrations(await createPostgresDatabase(TEMPLATE_DATABASE));
    project.provide('templateDatabase', TEMPLATE_DATABASE);
    return () => dropPostgresDatabase(TEMPLATE_DATABASE);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-api-template-'));
  const file = path.join(dir, 'template.db');
  await applyMigrations(`file:${file}`);
  project.provide('templateDatabase', file);
  return () => fs.rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** A migrated SQLite file, or the name of a migrated PostgreSQL template database. */
    templateDatabase: string;
  }
}
