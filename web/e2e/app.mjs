// The demo app in Chromium against a running Filegraph: drop files, watch
// each reach 100% and be saved, find them in the list (filter, sort), download
// one and compare its bytes, delete one; a screenshot is left for a person.
// Env: APP_URL (the app), TOKEN (bearer token or empty), ALLOW (comma-separated
// origins the page may reach besides the app's: the storage), ARTIFACTS, NAME.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { launch, isolatedContext, fail, need, sha, watch } from './browser.mjs';

const appURL = need('APP_URL');
const allow = [appURL, ...(process.env.ALLOW ?? '').split(',').filter(Boolean)];
/** @type {[{ name: string, type: string, bytes: Buffer }, { name: string, type: string, bytes: Buffer }, { name: string, type: string, bytes: Buffer }]} */
const files = [
  { name: 'alpha notes.txt', type: 'text/plain', bytes: Buffer.from('Filegraph demo: a small text file.\n') },
  { name: 'bravo.bin', type: 'application/octet-stream', bytes: randomBytes(1 << 20) },
  { name: 'charlie.bin', type: 'application/octet-stream', bytes: randomBytes(4 << 20) },
];

const browser = await launch();
try {
  const { context, blocked } = await isolatedContext(browser, allow, { acceptDownloads: true, viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const problems = watch(page);
  // A server without the app's manifest answers its first hash with
  // PERSISTED_QUERY_NOT_FOUND (a 400 the console reports); the app then
  // sends text. Those answers are expected, anything else is a problem.
  // Likewise a PUT resumed after its paused try had in fact arrived is
  // answered 412 (upload URLs write once), which the client counts as done.
  let notFound = 0;
  let rewritten = 0;
  page.on('response', async (res) => {
    if (res.status() === 400 && (await res.text().catch(() => '')).includes('PERSISTED_QUERY_NOT_FOUND')) notFound++;
    if (res.status() === 412 && res.request().method() === 'PUT') rewritten++;
  });
  // Uploads at 2 MiB/s, so that progress has steps to show and a pause has
  // time to land.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2 << 20 });
  const token = process.env.TOKEN ?? '';
  await page.goto(appURL + (token ? '?token=' + encodeURIComponent(token) : ''));
  await page.locator('#files tbody tr').first().waitFor({ timeout: 15_000 }).catch(() => fail('the file list never rendered: ' + problems.join('; ')));

  // Progress as the page shows it, sampled on every change of a row.
  /** @typedef {typeof window & { seen: Record<string, Set<number>> }} Seeing */
  await page.evaluate(() => {
    const w = /** @type {Seeing} */ (window);
    w.seen = {};
    new MutationObserver(() => {
      for (const row of document.querySelectorAll('.upload')) {
        if (!(row instanceof HTMLElement)) continue;
        (w.seen[row.dataset.name ?? ''] ??= new Set()).add(Number(row.dataset.progress));
      }
    }).observe(/** @type {Node} */ (document.querySelector('#uploads')), { subtree: true, attributes: true, childList: true });
  });

  // Drop the files on the drop zone, as a person dragging them from the desktop.
  await page.evaluate((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
    document.querySelector('#drop')?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files.map((f) => ({ name: f.name, type: f.type, b64: f.bytes.toString('base64') })));

  // Pause charlie (the largest) mid-way, then resume it.
  const charlie = page.locator('.upload[data-name="charlie.bin"]');
  await page.waitForFunction(() => {
    const p = Number(document.querySelector('.upload[data-name="charlie.bin"]')?.getAttribute('data-progress'));
    return p > 0 && p < 100;
  }, null, { timeout: 30_000, polling: 20 }).catch(() => fail('charlie.bin showed no progress between 0 and 100%'));
  await charlie.locator('[data-act=pause]').click();
  await charlie.and(page.locator('[data-status="paused"]')).waitFor({ timeout: 5_000 }).catch(() => fail('charlie.bin did not pause'));
  const pausedAt = Number(await charlie.getAttribute('data-progress'));
  await charlie.locator('[data-act=resume]').click();

  for (const f of files) {
    const row = page.locator(`.upload[data-name="${f.name}"]`);
    await row.and(page.locator('[data-status="done"]')).waitFor({ timeout: 60_000 }).catch(async () =>
      fail(`${f.name} did not finish: status ${await row.getAttribute('data-status')}, ${await row.locator('.problem').innerText()}; ${problems.join('; ')}`));
    const progress = await row.getAttribute('data-progress');
    if (progress !== '100') fail(`${f.name} finished at ${progress}%`);
  }
  const seen = await page.evaluate(() => Object.fromEntries(Object.entries(/** @type {Seeing} */ (window).seen).map(([k, v]) => [k, [...v].sort((a, b) => a - b)])));
  console.log('progress seen:', JSON.stringify(seen), 'charlie paused at', pausedAt + '%');
  if ((seen['charlie.bin'] ?? []).filter((p) => p > 0 && p < 100).length < 2) fail('too few progress steps for charlie.bin');

  // The list shows them (it reloads after each save).
  for (const f of files) {
    await page.locator(`#files tr[data-name="${f.name}"]`).waitFor({ timeout: 10_000 }).catch(() => fail(`${f.name} is not listed`));
  }
  const listed = async () => page.locator('#files tbody tr[data-name]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name')));
  await page.locator('#sort').selectOption('name-desc');
  await page.waitForFunction(() => document.querySelector('#files tbody tr[data-name]')?.getAttribute('data-name') === 'charlie.bin');
  await page.locator('#sort').selectOption('smallest');
  await page.waitForFunction(() => document.querySelector('#files tbody tr[data-name]')?.getAttribute('data-name') === 'alpha notes.txt');
  await page.locator('#filter').fill('BRAV');
  await page.waitForFunction(() => document.querySelectorAll('#files tbody tr[data-name]').length === 1);
  if ((await listed())[0] !== 'bravo.bin') fail('filter BRAV shows ' + (await listed()));

  // Download bravo.bin: the same bytes under its original name.
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 15_000 }),
    page.locator('#files tr[data-name="bravo.bin"] [data-act=download]').click(),
  ]);
  const got = await readFile(await download.path());
  if (sha(got) !== sha(files[1].bytes)) fail(`downloaded bravo.bin differs: ${got.length} bytes`);
  if (download.suggestedFilename() !== 'bravo.bin') fail('download named ' + download.suggestedFilename());

  // charlie.bin was paused and resumed: the same bytes too.
  await page.locator('#filter').fill('charlie');
  await page.waitForFunction(() => document.querySelectorAll('#files tbody tr[data-name]').length === 1);
  const [download2] = await Promise.all([
    page.waitForEvent('download', { timeout: 15_000 }),
    page.locator('#files tr[data-name="charlie.bin"] [data-act=download]').click(),
  ]);
  const got2 = await readFile(await download2.path());
  if (sha(got2) !== sha(files[2].bytes)) fail(`downloaded charlie.bin differs: ${got2.length} bytes`);

  // Delete alpha: gone from the list, the count drops.
  await page.locator('#filter').fill('');
  await page.locator('#sort').selectOption('newest');
  await page.locator('#files tr[data-name="alpha notes.txt"]').waitFor();
  await page.locator('#files tr[data-name="alpha notes.txt"] [data-act=delete]').click();
  await page.locator('#files tr[data-name="alpha notes.txt"]').waitFor({ state: 'detached', timeout: 10_000 }).catch(() => fail('alpha was not deleted'));
  const count = await page.locator('#page-info').innerText();
  if (!count.startsWith('2 ')) fail('count after delete: ' + count);

  // A type the server does not take (ALLOWED_CONTENT_TYPES): said plainly.
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['MZ'], 'setup.exe', { type: 'application/x-msdownload' }));
    document.querySelector('#drop')?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  const refused = page.locator('.upload[data-name="setup.exe"]');
  await refused.and(page.locator('[data-status="failed"]')).waitFor({ timeout: 15_000 }).catch(() => fail('setup.exe was not refused'));
  const said = await refused.locator('.problem').innerText();
  if (!said.includes('is not allowed')) fail('the refusal of setup.exe reads: ' + said);
  if (!(await page.locator('#error').isVisible())) fail('no error shown for setup.exe');

  if (process.env.ARTIFACTS) await page.screenshot({ path: `${process.env.ARTIFACTS}/app-${process.env.NAME ?? 'demo'}.png`, fullPage: true });
  if (blocked.length) fail('the page asked for other hosts: ' + blocked.join(', '));
  if (rewritten) console.log(`${rewritten} PUT resumed after a pause answered 412 (something was stored): the client went on to saveFiles, which checks it`);
  const unexpected = problems.filter((p) => !(p.includes('status of 400') && notFound-- > 0) && !(p.includes('status of 412') && rewritten-- > 0));
  if (unexpected.length) fail(unexpected.join('; '));
  console.log(`refused setup.exe: "${said}"`);
  console.log(`OK dropped ${files.length} files, all at 100% and listed; downloaded bravo.bin and the paused and resumed charlie.bin (same SHA-256); deleted alpha`);
} finally {
  await browser.close();
}
