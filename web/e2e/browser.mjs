// Shared by the browser tests: Debian's Chromium driven by playwright-core
// (which downloads no browser of its own), and a context that lets the page
// reach only the origins a test names: every other request is aborted and
// recorded, so a test proves the page needs nothing from the internet.
// Type-checked by tsc (checkJs) from the JSDoc here, as part of make check.
import { createHash } from 'node:crypto';
import { chromium } from 'playwright-core';

/** @typedef {import('playwright-core').Browser} Browser */
/** @typedef {import('playwright-core').BrowserContextOptions} BrowserContextOptions */
/** @typedef {import('playwright-core').Page} Page */

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/**
 * A context whose pages may only reach `origins`; `blocked` lists the rest.
 * @param {Browser} browser
 * @param {string[]} origins
 * @param {BrowserContextOptions} [options]
 */
export async function isolatedContext(browser, origins, options = {}) {
  const allowed = new Set(origins.map((o) => new URL(o).origin));
  const context = await browser.newContext(options);
  /** @type {string[]} */
  const blocked = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (allowed.has(url.origin) || url.protocol === 'data:' || url.protocol === 'blob:') {
      return route.continue();
    }
    blocked.push(url.href);
    return route.abort('blockedbyclient');
  });
  return { context, blocked };
}

/**
 * Fails the run with a message; the Go test that started us prints it.
 * @param {string} message
 * @returns {never}
 */
export function fail(message) {
  console.error('FAIL ' + message);
  process.exit(1);
}

/**
 * A setting the Go test that started us must give.
 * @param {string} name
 */
export function need(name) {
  const v = process.env[name];
  if (!v) fail(`${name} is not set`);
  return v;
}

/**
 * The bytes of a file made from a seed (xorshift32): the same in the page
 * and here, so big files need not cross the driver.
 * @param {number} size
 * @param {number} seed
 */
export function makeBytes(size, seed) {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** @param {import('node:crypto').BinaryLike} b */
export const sha = (b) => createHash('sha256').update(b).digest('hex');

/**
 * Collects page errors and console errors so a failure can show them.
 * @param {Page} page
 */
export function watch(page) {
  /** @type {string[]} */
  const problems = [];
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push('console: ' + m.text());
  });
  return problems;
}

/**
 * The operations the tests send, by name: [data, variables] as graphql-codegen
 * typed them (src/gql), so a schema change that breaks a test fails tsc.
 * @typedef {{
 *   Files: [import('../src/gql/graphql').FilesQuery, import('../src/gql/graphql').FilesQueryVariables],
 *   FileDownloadUrl: [import('../src/gql/graphql').FileDownloadUrlQuery, import('../src/gql/graphql').FileDownloadUrlQueryVariables],
 *   PendingUploads: [import('../src/gql/graphql').PendingUploadsQuery, import('../src/gql/graphql').PendingUploadsQueryVariables],
 *   PendingUploadParts: [import('../src/gql/graphql').PendingUploadPartsQuery, import('../src/gql/graphql').PendingUploadPartsQueryVariables],
 * }} Operations
 */

/**
 * The test's own API client: it sends the web client's operations by their
 * hash in the persisted-documents manifest, as the app does, so that it works
 * on a server that runs only those (GRAPHQL_TRUSTED_DOCUMENTS) as on any.
 * @param {string} appURL
 * @param {string} token
 */
export async function apiClient(appURL, token) {
  const { readFile } = await import('node:fs/promises');
  /** @type {Record<string, string>} */
  const manifest = JSON.parse(await readFile(new URL('../src/gql/persisted-documents.json', import.meta.url), 'utf8'));
  /** @type {Record<string, { hash: string, doc: string }>} */
  const byName = {};
  for (const [hash, doc] of Object.entries(manifest)) byName[doc.split(/[\s(]/)[1] ?? ''] = { hash: hash.replace(/^sha256:/, ''), doc };
  /**
   * @template {keyof Operations} N
   * @param {N} name
   * @param {Operations[N][1]} variables
   * @returns {Promise<Operations[N][0]>}
   */
  return async (name, variables) => {
    const op = byName[name];
    if (!op) fail(`no operation ${name} in the manifest`);
    const res = await fetch(new URL('/query', appURL), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: 'Bearer ' + token } : {}) },
      // The text too: a server without the manifest runs it as a plain query.
      body: JSON.stringify({ query: op.doc, variables }),
    });
    const body = await res.json();
    if (body.errors) fail(`${name}: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
}
