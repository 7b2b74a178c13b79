// Shared by the browser tests: Debian's Chromium driven by playwright-core
// (which downloads no browser of its own), and a context that lets the page
// reach only the origins a test names: every other request is aborted and
// recorded, so a test proves the page needs nothing from the internet.
import { chromium } from 'playwright-core';

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

/** A context whose pages may only reach `origins`; `blocked` lists the rest. */
export async function isolatedContext(browser, origins, options = {}) {
  const allowed = new Set(origins.map((o) => new URL(o).origin));
  const context = await browser.newContext(options);
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

/** Fails the run with a message; the Go test that started us prints it. */
export function fail(message) {
  console.error('FAIL ' + message);
  process.exit(1);
}

/** Collects page errors and console errors so a failure can show them. */
export function watch(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push('console: ' + m.text());
  });
  return problems;
}

/**
 * The test's own API client: it sends the web client's operations by their
 * hash in the persisted-documents manifest, as the app does, so that it works
 * on a server that runs only those (GRAPHQL_TRUSTED_DOCUMENTS) as on any.
 */
export async function apiClient(appURL, token) {
  const { readFile } = await import('node:fs/promises');
  const manifest = JSON.parse(await readFile(new URL('../src/gql/persisted-documents.json', import.meta.url), 'utf8'));
  const byName = {};
  for (const [hash, doc] of Object.entries(manifest)) byName[doc.split(/[\s(]/)[1]] = { hash: hash.replace(/^sha256:/, ''), doc };
  return async (name, variables = {}) => {
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
