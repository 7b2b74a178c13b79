// Audits a GraphQL endpoint against the GraphQL over HTTP spec with the
// graphql-http reference audit. Prints each finding that is not "ok" and
// exits non-zero if any audit is not ok (MUST, SHOULD and MAY alike) or if
// the run returned no results at all.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const results = await auditServer({ url, fetchFn: fetch });
let failed = 0;
for (const r of results) {
  if (r.status === 'ok') continue;
  console.log(`${r.status} ${r.id} ${r.name}: ${r.reason}`);
  failed++;
}
if (results.length === 0) {
  console.log(`graphql-http audit of ${url}: no results`);
  process.exit(1);
}
console.log(`graphql-http audit of ${url}: ${results.length} audits, ${failed} failing`);
process.exit(failed ? 1 : 0);
