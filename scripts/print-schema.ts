// Writes schema.graphql (the public API) and schema.subgraph.graphql (the federation subgraph's
// SDL) from the code. A test fails when a committed file differs.
import fs from 'node:fs';
import { printedSchema, printedSubgraphSchema } from '../src/schema/index.ts';

fs.writeFileSync(new URL('../schema.graphql', import.meta.url), printedSchema());
fs.writeFileSync(new URL('../schema.subgraph.graphql', import.meta.url), printedSubgraphSchema());
console.log('wrote schema.graphql and schema.subgraph.graphql');
