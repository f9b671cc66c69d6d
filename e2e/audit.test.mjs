// GraphQL over HTTP conformance of /graphql: the server audit of the
// graphql-http package (the reference implementation of the GraphQL over
// HTTP specification). Every MUST has to pass, and every SHOULD that fails
// has to be listed by its audit id in the README with the reason. The
// default Accept headers of Apollo Client 3 and 4 are checked as well.
//
// Environment: WINTRO_E2E_URL (the server, required), E2E_ARTIFACTS (where
// graphql-http-audit.json is written; default e2e/artifacts/).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { auditServer } from 'graphql-http';

const BASE_URL = process.env.WINTRO_E2E_URL;
const ARTIFACTS = process.env.E2E_ARTIFACTS || fileURLToPath(new URL('./artifacts/', import.meta.url));
const README = fileURLToPath(new URL('../README.md', import.meta.url));

let results = [];

before(async () => {
  assert.ok(BASE_URL, 'set WINTRO_E2E_URL to the server, for example http://127.0.0.1:8080');
  results = await auditServer({ url: BASE_URL + '/graphql' });
  mkdirSync(ARTIFACTS, { recursive: true });
  const summary = results.map(({ id, name, status, reason }) => ({ id, name, status, reason }));
  writeFileSync(join(ARTIFACTS, 'graphql-http-audit.json'), JSON.stringify(summary, null, 2) + '\n');
  for (const r of summary) {
    console.log(`${r.status.padEnd(6)} ${r.id} ${r.name}${r.reason ? ': ' + r.reason : ''}`);
  }
});

function failing(level) {
  return results.filter((r) => r.name.startsWith(level + ' ') && r.status !== 'ok');
}

test('audit ran', () => {
  assert.ok(results.length >= 40, `graphql-http returned ${results.length} audit results, want at least 40`);
});

test('every MUST passes', () => {
  const failed = failing('MUST').map((r) => `${r.id} ${r.name}: ${r.reason}`);
  assert.deepEqual(failed, []);
});

test('failing SHOULDs are listed in the README', () => {
  const readme = readFileSync(README, 'utf8');
  const undocumented = failing('SHOULD')
    .filter((r) => !readme.includes('`' + r.id + '`'))
    .map((r) => `${r.id} ${r.name}: ${r.reason}`);
  assert.deepEqual(undocumented, [], 'add each audit id, in backquotes, with its reason to the README');
});

// Default Accept headers: Apollo Client 3 sends */*, Apollo Client 4 the
// media type of the GraphQL over HTTP specification with application/json
// as the fallback.
const apolloClients = [
  { name: 'Apollo Client 3', accept: '*/*', contentType: 'application/json' },
  {
    name: 'Apollo Client 4',
    accept: 'application/graphql-response+json,application/json;q=0.9',
    contentType: 'application/graphql-response+json',
  },
];

for (const client of apolloClients) {
  test(`${client.name} Accept header gets a GraphQL response`, async () => {
    const response = await postQuery('query Typename { __typename }', client.accept);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), client.contentType);
    assert.deepEqual(await response.json(), { data: { __typename: 'Query' } });
  });

  test(`${client.name} Accept header gets errors as GraphQL errors`, async () => {
    const response = await postQuery('query Integration { teamsIntegration { status } }', client.accept);
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', JSON.stringify(body));
  });
}

async function postQuery(query, accept) {
  return fetch(BASE_URL + '/graphql', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: accept },
    body: JSON.stringify({ query }),
  });
}
