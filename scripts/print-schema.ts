// Writes schema.graphql from the code. A test fails when the committed file differs.
import fs from 'node:fs';
import { printedSchema } from '../src/schema/index.ts';

fs.writeFileSync(new URL('../schema.graphql', import.meta.url), printedSchema());
console.log('wrote schema.graphql');
