// make check: Filegraph's subgraph SDL (../../subgraph.graphql, as _service
// answers it) and the users subgraph compose into a supergraph with
// @apollo/composition, with no errors and no hints: a hint (an
// inconsistent type, a field some subgraph cannot resolve) is what makes
// a query plan fail at run time, so any is refused here. With an argument,
// the supergraph SDL is written to that file.
import { readFileSync, writeFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { typeDefs as users } from './users.mjs';

const filegraph = readFileSync(new URL('../../subgraph.graphql', import.meta.url), 'utf8');
const result = composeServices([
  { name: 'filegraph', url: 'http://filegraph/query', typeDefs: parse(filegraph) },
  { name: 'users', url: 'http://users/', typeDefs: parse(users) },
]);
const problems = [
  ...(result.errors ?? []).map((e) => `error: ${e.message}`),
  ...(result.hints ?? []).map((h) => `hint ${h.definition.code}: ${h.message}`),
];
if (problems.length > 0 || !result.supergraphSdl) {
  console.error(`filegraph and users do not compose cleanly:\n${problems.join('\n')}`);
  process.exit(1);
}
if (process.argv[2]) writeFileSync(process.argv[2], result.supergraphSdl);
