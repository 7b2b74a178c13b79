// Two tabs of the demo app in Chromium, as one user: what one uploads and
// deletes appears in, and leaves, the other's list by itself (the app's
// graphql-ws subscription; the app never polls). A screenshot of each tab
// is left for a person.
// Env: APP_URL, TOKEN, ALLOW (as app.mjs), ARTIFACTS, NAME.
import { randomBytes } from 'node:crypto';
import { launch, isolatedContext, fail, need, watch } from './browser.mjs';

const appURL = need('APP_URL');
const allow = [appURL, ...(process.env.ALLOW ?? '').split(',').filter(Boolean)];
const token = process.env.TOKEN ?? '';
const name = `live-${randomBytes(4).toString('hex')}.txt`;

const browser = await launch();
try {
  const { context } = await isolatedContext(browser, allow, { viewport: { width: 1100, height: 700 } });
  const url = appURL + (token ? '?token=' + encodeURIComponent(token) : '');
  const watcher = await context.newPage();
  const uploader = await context.newPage();
  const problems = [...watch(watcher).map((p) => 'watcher ' + p), ...watch(uploader)];
  for (const page of [watcher, uploader]) {
    await page.goto(url);
    await page.locator('#live[data-live="true"]').waitFor({ timeout: 15_000 }).catch(() => fail('a tab never went live: ' + problems.join('; ')));
  }
  // The watcher's requests from here on: it must list again because of the
  // event, not because of anything it did.
  let listings = 0;
  watcher.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/query') && (r.postData() ?? '').includes('Files')) listings++;
  });

  await uploader.evaluate((n) => {
    const dt = new DataTransfer();
    dt.items.add(new File(['seen in another tab\n'], n, { type: 'text/plain' }));
    document.querySelector('#drop')?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, name);
  await uploader.locator(`.upload[data-name="${name}"][data-status="done"]`).waitFor({ timeout: 30_000 }).catch(() => fail('the upload did not finish: ' + problems.join('; ')));
  const row = watcher.locator(`#files tr[data-name="${name}"]`);
  await row.waitFor({ timeout: 10_000 }).catch(() => fail(`the other tab never listed ${name} (${listings} listings): ${problems.join('; ')}`));
  if (listings === 0) fail('the other tab showed the file without listing');
  await uploader.locator(`#files tr[data-name="${name}"]`).waitFor({ timeout: 10_000 });
  if (process.env.ARTIFACTS) {
    const tag = process.env.NAME ?? 'demo';
    await watcher.screenshot({ path: `${process.env.ARTIFACTS}/live-${tag}-watcher.png` });
    await uploader.screenshot({ path: `${process.env.ARTIFACTS}/live-${tag}-uploader.png` });
  }

  await uploader.locator(`#files tr[data-name="${name}"] [data-act=delete]`).click();
  await row.waitFor({ state: 'detached', timeout: 10_000 }).catch(() => fail(`${name} stayed in the other tab after its delete`));
  if (problems.length) fail(problems.join('; '));
  console.log(`OK ${name}: uploaded in one tab, listed in the other by itself (${listings} listings there), gone from it after the delete`);
} finally {
  await browser.close();
}
