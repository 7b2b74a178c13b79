// The Uppy page in Chromium: files picked in Uppy's Dashboard go through
// Filegraph's option functions to storage, two by single PUT and one in
// parts, and are saved; then the API must list them and serve the same
// bytes. Env as app.mjs, plus PART_SIZE (the server's, in bytes).
import { randomBytes } from 'node:crypto';
import { launch, isolatedContext, fail, need, sha, watch, apiClient } from './browser.mjs';

const appURL = need('APP_URL');
const token = process.env.TOKEN ?? '';
const allow = [appURL, ...(process.env.ALLOW ?? '').split(',').filter(Boolean)];
const partSize = Number(need('PART_SIZE'));
const files = [
  { name: 'uppy small.txt', mimeType: 'text/plain', buffer: Buffer.from('sent by Uppy through Filegraph\n') },
  { name: 'uppy-medium.bin', mimeType: 'application/octet-stream', buffer: randomBytes(2 << 20) },
  { name: 'uppy-large.bin', mimeType: 'application/octet-stream', buffer: randomBytes(2 * partSize + 777) },
];

const api = await apiClient(appURL, token);

const browser = await launch();
try {
  const { context, blocked } = await isolatedContext(browser, allow, { viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const problems = watch(page);
  let notFound = 0;
  let parts = 0;
  page.on('response', async (res) => {
    if (res.request().method() === 'PUT' && res.ok() && res.url().includes('partNumber=')) parts++;
    if (res.status() === 400 && (await res.text().catch(() => '')).includes('PERSISTED_QUERY_NOT_FOUND')) notFound++;
  });
  // Files over one part go in parts.
  await page.goto(new URL('uppy.html', appURL).href + `?multipart=${partSize}` + (token ? '&token=' + encodeURIComponent(token) : ''));
  const input = page.locator('input.uppy-Dashboard-input').first();
  await input.waitFor({ state: 'attached', timeout: 15_000 }).catch(() => fail('the Dashboard did not render: ' + problems.join('; ')));
  await input.setInputFiles(files);
  await page.locator('.uppy-StatusBar-actionBtn--upload').click();
  await page.waitForFunction((n) => document.body.dataset.saved === String(n), files.length, { timeout: 60_000 }).catch(async () =>
    fail('Uppy did not finish: ' + (await page.locator('.uppy-StatusBar').innerText().catch(() => '')) + '; ' + problems.join('; ')));
  if (process.env.ARTIFACTS) await page.screenshot({ path: `${process.env.ARTIFACTS}/uppy-${process.env.NAME ?? 'demo'}.png` });

  // Saved, listed, and the same bytes come back.
  const { files: list } = await api('Files', { first: 50 });
  for (const f of files) {
    const node = (list.edges ?? []).map((e) => e?.node).find((n) => n?.originalName === f.name);
    if (!node) fail(`${f.name} was not saved`);
    const { fileDownloadUrl } = await api('FileDownloadUrl', { id: node.id });
    const got = Buffer.from(await (await fetch(fileDownloadUrl.url)).arrayBuffer());
    if (sha(got) !== sha(f.buffer)) fail(`${f.name}: downloaded ${got.length} bytes that differ`);
  }
  if (parts !== 3) fail(`${parts} part PUTs, want 3 (uppy-large.bin in parts)`);
  if (blocked.length) fail('the page asked for other hosts: ' + blocked.join(', '));
  const unexpected = problems.filter((p) => !(p.includes('status of 400') && notFound-- > 0));
  if (unexpected.length) fail(unexpected.join('; '));
  console.log(`OK Uppy uploaded ${files.length} files through Filegraph (one in ${parts} parts); saved, listed, same SHA-256`);
} finally {
  await browser.close();
}
