import fs from 'node:fs';
import { postgresSchema } from './postgresSchema.ts';

fs.mkdirSync('prisma/postgresql', { recursive: true });
fs.writeFileSync('prisma/postgresql/schema.prisma', postgresSchema(fs.readFileSync('prisma/schema.prisma', 'utf8')));
console.log('wrote prisma/postgresql/schema.prisma');
