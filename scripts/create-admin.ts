// npm run create-admin -- --email admin@example.com --password 'a-long-passphrase'
// Creates a staff user, or promotes an existing one; prompts for whatever is missing.
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../src/config.ts';
import { connectDatabase, ensureDatabaseFolder } from '../src/db.ts';
import { ValidationError } from '../src/errors.ts';
import { applyMigrations } from '../src/migrate.ts';
import { PasswordHasher } from '../src/passwords/hasher.ts';
import { createUser, normalizeEmail } from '../src/users.ts';

async function ask(question: string, hidden = false): Promise<string> {
  if (!process.stdin.isTTY && hidden) {
    throw new Error('--password is required when there is no terminal to ask on');
  }
  const output = process.stdout;
  const readline = createInterface({ input: process.stdin, output, terminal: true });
  if (hidden) {
    // Echo nothing of what is typed after the prompt.
    const write = output.write.bind(output);
    (readline as unknown as { _writeToOutput: (text: string) => void })._writeToOutput = (text) => {
      if (text.startsWith(question)) write(question);
    };
  }
  try {
    return (await readline.question(question)).trim();
  } finally {
    readline.close();
    if (hidden) output.write('\n');
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { email: { type: 'string' }, password: { type: 'string' } } });
  const config = loadConfig();
  ensureDatabaseFolder(config.databaseUrl);
  await applyMigrations(config.migrationDatabaseUrl, { lockWaitSeconds: config.migrationLockWaitSeconds, onWait: (message) => console.error(message) });
  const prisma = await connectDatabase(config.databaseUrl);
  const hasher = new PasswordHasher({ cost: config.bcryptCost, threads: 1 });
  try {
    const email = normalizeEmail(values.email ?? (await ask('Email: ')));
    // The operator vouches for the address: the first admin must be able to sign in even with
    // REQUIRE_VERIFIED_EMAIL on, and has no verification mail to wait for.
    const existing = await prisma.user.findUnique({ where: { email }, select: { id: true } });
    if (existing) {
      await prisma.user.update({ where: { id: existing.id }, data: { isStaff: true, isActive: true, emailVerified: true } });
      console.log(`${email} is now staff (password unchanged).`);
      return 0;
    }
    const password = values.password ?? (await ask('Password: ', true));
    const user = await createUser({ prisma, hasher }, { email, password, isStaff: true, emailVerified: true });
    console.log(`Created staff user ${user.email} (id ${user.id}).`);
    return 0;
  } catch (error) {
    if (error instanceof ValidationError) {
      for (const { field, messages } of error.fieldErrors) console.error(`${field}: ${messages.join(' ')}`);
      return 1;
    }
    throw error;
  } finally {
    await hasher.close();
    await prisma.$disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof ConfigError ? `Configuration error: ${error.message}` : `create-admin failed: ${error.message}`);
    process.exit(1);
  },
);
