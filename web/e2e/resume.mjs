// A large file in parts through the demo app, the page reloaded mid-upload,
// on either backend: the first two part PUTs the browser sends go out, the
// others are held here (their route is never let through) until every part
// the page still had to send is held, and then the page reloads, which cuts
// them. After the reload the app offers the unfinished upload (from the
// API's `uploads`), the same file picked again must send exactly the parts
// the storage lacks, each once (counted here, as the browser sends them),
// and the saved file downloads with the same bytes. Env as app.mjs, plus
// PART_SIZE (the server's, in bytes).
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { launch, isolatedContext, fail, makeBytes, need, sha, watch, apiClient } from './browser.mjs';

const appURL = need('APP_URL');
const token = process.env.TOKEN ?? '';
const partSize = Number(need('PART_SIZE'));
const allow = [appURL, ...(process.env.ALLOW ?? '').split(',').filter(Boolean)];
// The file is made in the page (and here, the same bytes from the same
// seed) rather than sent through the driver: 25 MB over CDP is slow.
const seed = randomBytes(4).readUInt32LE() || 1;
const size = 5 * partSize - 1234;
const file = { name: 'delta-large.bin', size, seed, buffer: Buffer.from(makeBytes(size, seed)) };
/**
 * Drops the file on the page's drop zone, made there from its seed.
 * @param {import('playwright-core').Page} page
 */
const dropFile = (page) => page.evaluate(({ name, size, seed, make }) => {
  /** @type {(size: number, seed: number) => Uint8Array<ArrayBuffer>} */
  const bytes = new Function('return ' + make)();
  const dt = new DataTransfer();
  dt.items.add(new File([bytes(size, seed)], name, { type: 'application/octet-stream' }));
  document.querySelector('#drop')?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
}, { name: file.name, size: file.size, seed: file.seed, make: makeBytes.toString() });
const partCount = Math.ceil(file.buffer.length / partSize);
// Files from one part size on go in parts.
const url = `${appURL}?multipart=${partSize}` + (token ? '&token=' + encodeURIComponent(token) : '');

/** @param {number} n */
const sizeOf = (n) => (n < partCount ? partSize : file.buffer.length - partSize * (partCount - 1));

const api = await apiClient(appURL, token);

/** Parts of the pending upload the storage holds whole, by the API. */
async function storedParts() {
  const { uploads } = await api('PendingUploads', { first: 10 });
  const pending = (uploads.edges ?? []).map((e) => e?.node).find((n) => n?.originalName === file.name);
  if (!pending) return [];
  const { upload } = await api('PendingUploadParts', { fileName: pending.fileName });
  return (upload?.uploadedParts ?? []).filter((p) => p.size === sizeOf(p.partNumber)).map((p) => p.partNumber);
}

const browser = await launch();
try {
  const { context, blocked } = await isolatedContext(browser, allow, { acceptDownloads: true, viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const problems = watch(page);
  // The part PUTs as the browser sends them (this route runs before
  // isolatedContext's, which lets what it falls back to through).
  let reloaded = false;
  /** @type {Set<number>} */
  const passed = new Set(); // the first page's parts let out
  /** @type {Set<number>} */
  const held = new Set(); // the first page's parts held until the reload
  /** @type {number[]} */
  const sentAfter = []; // every part PUT of the second page, in order
  await context.route((u) => u.searchParams.has('partNumber'), (route) => {
    const req = route.request();
    if (req.method() !== 'PUT') return route.fallback();
    const n = Number(new URL(req.url()).searchParams.get('partNumber'));
    if (reloaded) sentAfter.push(n);
    else if (passed.size < 2 || passed.has(n)) passed.add(n);
    else return void held.add(n); // never answered: the reload cuts it
    return route.fallback();
  });
  await page.goto(url);
  await dropFile(page);
  const row = page.locator(`.upload[data-name="${file.name}"]`);
  // Once two parts are stored and every other one is held (so that the
  // first page has nothing left to send), reload: the page forgets
  // everything it had.
  const deadline = Date.now() + 60_000;
  let before = await storedParts();
  while (before.length < passed.size || passed.size < 2 || held.size < partCount - 2) {
    if (Date.now() > deadline) fail(`parts stored ${before}, let out ${[...passed]}, held ${[...held]} after 60s: ${await row.getAttribute('data-status')} ${await row.locator('.problem').innerText().catch(() => '')}; ${problems.join('; ')}`);
    await new Promise((r) => setTimeout(r, 50));
    before = await storedParts();
  }
  if (before.join() !== [...passed].sort((a, b) => a - b).join()) fail(`stored before the reload: ${before}, want the parts let out: ${[...passed]}`);
  reloaded = true;
  await page.reload();
  const offer = page.locator(`#resumable li[data-name="${file.name}"]`);
  await offer.waitFor({ timeout: 15_000 }).catch(async () => {
    const res = await fetch(new URL('/query', appURL), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: 'Bearer ' + token } : {}) },
      body: JSON.stringify({ query: '{ uploads(first: 10) { totalCount edges { node { fileName originalName partSize partCount } } } }' }),
    }).then((r) => r.text()).catch((e) => String(e));
    fail('after the reload the app did not offer the unfinished upload; the API lists ' + res + '; page: ' + (await page.locator('#resumable').evaluate((e) => e.outerHTML)) + '; ' + problems.join('; '));
  });
  await dropFile(page);
  const resumedAt = await page.waitForFunction(() => {
    const p = Number(document.querySelector('.upload')?.getAttribute('data-progress'));
    return p > 0 ? p : false;
  }, null, { timeout: 30_000, polling: 20 }).then((h) => h.jsonValue());
  await row.and(page.locator('[data-status="done"]')).waitFor({ timeout: 90_000 }).catch(async () =>
    fail(`not saved after resuming: ${await row.getAttribute('data-status')} ${await row.locator('.problem').innerText()}; ${problems.join('; ')}`));
  const missing = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !before.includes(n));
  if ([...sentAfter].sort((a, b) => a - b).join() !== missing.join()) fail(`after the reload the page sent parts ${sentAfter}, want each of the missing ${missing} once (${before} were stored)`);

  // The same bytes come back.
  await page.locator(`#files tr[data-name="${file.name}"]`).waitFor({ timeout: 10_000 });
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 30_000 }),
    page.locator(`#files tr[data-name="${file.name}"] [data-act=download]`).click(),
  ]);
  const got = await readFile(await download.path());
  if (sha(got) !== sha(file.buffer)) {
    const diff = [];
    for (let n = 1; n <= partCount; n++) {
      const a = got.subarray(partSize * (n - 1), partSize * (n - 1) + sizeOf(n));
      const b = file.buffer.subarray(partSize * (n - 1), partSize * (n - 1) + sizeOf(n));
      if (!a.equals(b)) {
        let i = 0;
        while (a[i] === b[i]) i++;
        diff.push(`part ${n} from byte ${i}`);
      }
    }
    fail(`downloaded ${got.length} bytes that differ from the ${file.buffer.length} sent: ${diff.join(', ')}; stored before the reload: ${before}`);
  }
  if (process.env.ARTIFACTS) await page.screenshot({ path: `${process.env.ARTIFACTS}/resume-${process.env.NAME ?? 'demo'}.png` });
  if (blocked.length) fail('the page asked for other hosts: ' + blocked.join(', '));
  // Requests cut by the reload are reported by the console; nothing else may be.
  const unexpected = problems.filter((p) => !p.includes('net::ERR_ABORTED') && !p.includes('status of 400'));
  if (unexpected.length) fail(unexpected.join('; '));
  console.log(`OK ${partCount} parts: ${before.length} stored before the reload (${before}), ${held.size} cut by it (${[...held]}); the page resumed at ${resumedAt}% and sent the ${sentAfter.length} missing (${sentAfter}); same SHA-256 (${got.length} bytes)`);
} finally {
  await browser.close();
}
