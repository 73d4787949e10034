/**
 * One Prisma schema cannot serve two providers, so prisma/schema.prisma (SQLite) is the source
 * and the PostgreSQL copy is derived from it: same models, another provider and client.
 */
export function postgresSchema(sqliteSchema: string): string {
  const derived = sqliteSchema
    .replace(/^generator pothos \{[^}]*\}\n\n/m, '')
    .replace(/provider(\s*)= "sqlite"/, 'provider$1= "postgresql"')
    .replace(/output(\s*)= "\.\.\/src\/generated\/prisma"/, 'output$1= "../../src/generated/prisma-postgresql"')
    .replace(/^\/\/ The source schema \(SQLite\).*\n/m, '');
  return `// Derived from prisma/schema.prisma by \`npm run db:derive\`; do not edit (a test checks it).\n${derived}`;
}
