// Downloads in the demo app, in Chromium against a running Filegraph: the
// list brings each file's signed link (File.downloadUrl in the Files
// document), so a download sends no request to the API, only the GET of
// the storage; once the page's clock is past a link's expiresAt, a download
// asks fileDownloadUrl once for a fresh link. Every download's bytes are
// compared with what was dropped. A screenshot is left for a person.
// Env: APP_URL, TOKEN, ALLOW (the storage's origin), ARTIFACTS, NAME.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { launch, isolatedContext, fail, need, sha, watch } from './browser.mjs';

const appURL = need('APP_URL');
const allow = [appURL, ...(process.env.ALLOW ?? '').split(',').filter(Boolean)];
const tag = randomBytes(3).toString('hex');
const files = [
  { name: `dl-${tag}-notes.txt`, type: 'text/plain', bytes: Buffer.from(`Downloaded by the link the list brought (${tag}).\n`) },
  { name: `dl-${tag}-data.bin`, type: 'application/octet-stream', bytes: randomBytes(1 << 20) },
  { name: `dl-${tag}-more.bin`, type: 'application/octet-stream', bytes: randomBytes(3 << 20) },
];

const browser = await launch();
try {
  const { context, blocked } = await isolatedContext(browser, allow, { acceptDownloads: true, viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  const problems = watch(page);
  // The operations the page sends, by name (urql sends operationName with a
  // hash as with a text); answers of PERSISTED_QUERY_NOT_FOUND are expected
  // from a server without the manifest, once.
  /** @type {string[]} */
  const ops = [];
  let notFound = 0;
  page.on('request', (req) => {
    if (req.method() !== 'POST' || !req.url().endsWith('/query')) return;
    ops.push(JSON.parse(req.postData() ?? '{}').operationName ?? '?');
  });
  page.on('response', async (res) => {
    if (res.status() === 400 && (await res.text().catch(() => '')).includes('PERSISTED_QUERY_NOT_FOUND')) notFound++;
  });
  const count = (/** @type {string} */ name) => ops.filter((o) => o === name).length;

  const token = process.env.TOKEN ?? '';
  const url = appURL + (token ? '?token=' + encodeURIComponent(token) : '');
  await page.goto(url);
  await page.locator('#files tbody tr').first().waitFor({ timeout: 15_000 }).catch(() => fail('the file list never rendered: ' + problems.join('; ')));
  await page.evaluate((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
    document.querySelector('#drop')?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files.map((f) => ({ name: f.name, type: f.type, b64: f.bytes.toString('base64') })));
  for (const f of files) {
    await page.locator(`.upload[data-name="${f.name}"][data-status="done"]`).waitFor({ timeout: 60_000 }).catch(() => fail(`${f.name} did not finish: ${problems.join('; ')}`));
  }

  // A fresh page: what it knows of the files comes from its list alone.
  await page.goto(url);
  await page.locator('#filter').fill(`dl-${tag}`);
  await page.waitForFunction((n) => document.querySelectorAll('#files tbody tr[data-name]').length === n, files.length, { timeout: 15_000 })
    .catch(() => fail(`the list never showed the ${files.length} files: ${problems.join('; ')}`));
  const listings = count('Files');
  if (listings === 0) fail('the page showed files without a Files request');

  /**
   * Clicks a row's Download; the saved file's bytes must be f's.
   * @param {{ name: string, bytes: Buffer }} f
   */
  const download = async (f) => {
    const [dl] = await Promise.all([
      page.waitForEvent('download', { timeout: 15_000 }),
      page.locator(`#files tr[data-name="${f.name}"] [data-act=download]`).click(),
    ]).catch(() => fail(`no download of ${f.name}: ${problems.join('; ')}`));
    const got = await readFile(/** @type {string} */ (await dl.path()));
    if (sha(got) !== sha(f.bytes)) fail(`downloaded ${f.name} differs: ${got.length} bytes, want ${f.bytes.length}`);
    if (dl.suggestedFilename() !== f.name) fail(`${f.name} saved as ${dl.suggestedFilename()}`);
  };

  // Each file by the link its list brought: no fileDownloadUrl at all.
  const before = ops.length;
  for (const f of files) await download(f);
  if (count('FileDownloadUrl') !== 0) fail(`downloads from the list asked fileDownloadUrl ${count('FileDownloadUrl')} times: ${ops.join(', ')}`);
  const sentForDownloads = ops.slice(before).filter((o) => o !== 'Files' && o !== 'Folders');
  if (sentForDownloads.length) fail('downloads from the list sent ' + sentForDownloads.join(', '));
  console.log(`${files.length} downloads from the list: ${count('FileDownloadUrl')} fileDownloadUrl requests, bytes equal`);

  // The page's clock past the links' expiry (DOWNLOAD_URL_TTL, 15m by
  // default): the listed link is not used, a fresh one is asked once.
  const listed = await page.evaluate(() => Date.now());
  await page.clock.setFixedTime(listed + 16 * 60_000);
  await download(/** @type {typeof files[number]} */ (files[1]));
  if (count('FileDownloadUrl') !== 1) fail(`an expired link asked fileDownloadUrl ${count('FileDownloadUrl')} times, want 1: ${ops.join(', ')}`);
  console.log('a download past the link\'s expiry: 1 fileDownloadUrl request, bytes equal');

  if (process.env.ARTIFACTS) await page.screenshot({ path: `${process.env.ARTIFACTS}/download-${process.env.NAME ?? 'demo'}.png`, fullPage: true });
  if (blocked.length) fail('the page asked for other hosts: ' + blocked.join(', '));
  const unexpected = problems.filter((p) => !(p.includes('status of 400') && notFound-- > 0));
  if (unexpected.length) fail(unexpected.join('; '));
  console.log(`OK ${files.length} files downloaded by their listed links (${listings} listings, 0 fileDownloadUrl), one again past its expiry by 1 fileDownloadUrl; operations: ${ops.join(', ')}`);
} finally {
  await browser.close();
}
