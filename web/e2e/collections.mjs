// Collections in the demo app, in Chromium against a running Filegraph
// whose COLLECTIONS_FILE has avatars (image/png and image/webp, 2 KiB, one
// file per request, public) and documents (text/plain, private): the app
// lists them, checks files before asking (a refused file sends no request),
// uploads with a folder and metadata, shows them, filters on them, and
// shows a public file's URL and an image from it; the URL serves the same
// bytes to anyone, with no signature. A screenshot is left for a person.
// Env: APP_URL, TOKEN, ALLOW (the storage's origin), ARTIFACTS, NAME.
import { launch, isolatedContext, fail, need, sha, watch } from './browser.mjs';

const appURL = need('APP_URL');
const allow = [appURL, ...(process.env.ALLOW ?? '').split(',').filter(Boolean)];

const browser = await launch();
try {
  const { context, blocked } = await isolatedContext(browser, allow, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = watch(page);
  let notFound = 0;
  // Every createUploadUrls the page sends, with the collections it names.
  /** @type {string[][]} */
  const issued = [];
  page.on('request', (req) => {
    const body = req.postData();
    if (req.method() !== 'POST' || !body?.includes('CreateUploadUrls')) return;
    issued.push(JSON.parse(body).variables.files.map((/** @type {{collection?: string}} */ f) => f.collection ?? 'default'));
  });
  page.on('response', async (res) => {
    if (res.status() === 400 && (await res.text().catch(() => '')).includes('PERSISTED_QUERY_NOT_FOUND')) notFound++;
  });
  const token = process.env.TOKEN ?? '';
  await page.goto(appURL + (token ? '?token=' + encodeURIComponent(token) : ''));
  await page.locator('#collection option[value="avatars"]').waitFor({ state: 'attached', timeout: 15_000 }).catch(() => fail('no avatars collection to pick: ' + problems.join('; ')));
  const names = await page.locator('#collection option').evaluateAll((os) => os.map((o) => /** @type {HTMLOptionElement} */ (o).value));
  if (names.join(',') !== 'default,avatars,documents') fail('collections offered: ' + names);
  await page.locator('#collection').selectOption('avatars');
  const rules = await page.locator('#rules').innerText();
  if (!rules.includes('image/png, image/webp') || !rules.includes('2.0 KiB') || !rules.includes('1 file at a time') || !rules.includes('public')) fail('rules shown: ' + rules);

  /**
   * Drops files made in the page: a PNG drawn on a canvas (w x h, a colour)
   * or plain bytes. Returns the dropped files' bytes, base64.
   * @param {({ name: string, png: [number, number, string] } | { name: string, type: string, size: number })[]} specs
   */
  const drop = (specs) =>
    page.evaluate(async (specs) => {
      const dt = new DataTransfer();
      /** @type {Record<string, string>} */
      const out = {};
      for (const s of specs) {
        let blob;
        if ('png' in s) {
          const c = document.createElement('canvas');
          [c.width, c.height] = [s.png[0], s.png[1]];
          const g = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
          g.fillStyle = s.png[2];
          g.fillRect(0, 0, c.width, c.height);
          g.fillStyle = '#fff';
          g.fillRect(c.width / 4, c.height / 4, c.width / 2, c.height / 2);
          blob = await new Promise((resolve) => c.toBlob(resolve, 'image/png'));
        } else {
          blob = new Blob([new Uint8Array(s.size).fill(65)], { type: s.type });
        }
        const f = new File([/** @type {Blob} */ (blob)], s.name, { type: /** @type {Blob} */ (blob).type });
        dt.items.add(f);
        out[s.name] = btoa(String.fromCharCode(...new Uint8Array(await f.arrayBuffer())));
      }
      document.querySelector('#drop')?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      return out;
    }, specs);
  /** @param {string} name @param {string} status */
  const rowIs = (name, status) =>
    page.locator(`.upload[data-name="${name}"][data-status="${status}"]`).waitFor({ timeout: 30_000 }).catch(async () => {
      const row = page.locator(`.upload[data-name="${name}"]`);
      fail(`${name} is not ${status}: ${await row.getAttribute('data-status').catch(() => 'no row')}, ${await row.locator('.problem').innerText().catch(() => '')}; ${problems.join('; ')}`);
    });

  // Refused before asking: too big, and a type avatars does not take.
  await drop([{ name: 'huge.png', type: 'image/png', size: 3000 }, { name: 'me.jpg', type: 'image/jpeg', size: 10 }]);
  await rowIs('huge.png', 'failed');
  await rowIs('me.jpg', 'failed');
  const saidHuge = await page.locator('.upload[data-name="huge.png"] .problem').innerText();
  const saidJpg = await page.locator('.upload[data-name="me.jpg"] .problem').innerText();
  if (saidHuge !== '"huge.png" is 3000 bytes, over the maxFileSize of collection "avatars" (2048 bytes) by 952') fail('huge.png refused with: ' + saidHuge);
  if (saidJpg !== '"me.jpg" is image/jpeg, which collection "avatars" does not allow (allowedContentTypes: image/png, image/webp)') fail('me.jpg refused with: ' + saidJpg);
  // A refused file offers no Cancel (there is nothing to cancel), only Remove, which drops its row.
  const jpgRow = page.locator('.upload[data-name="me.jpg"]');
  if (await jpgRow.locator('[data-act=cancel]').isVisible()) fail('a refused file offers Cancel');
  await jpgRow.locator('[data-act=remove]').click();
  await jpgRow.waitFor({ state: 'detached', timeout: 5_000 }).catch(() => fail('Remove left the refused me.jpg listed'));
  if (issued.length) fail('refused files were asked for: ' + JSON.stringify(issued));

  // Two avatars with a folder and metadata: the app asks for them one per
  // request (maxFilesPerRequest 1), both are saved.
  await page.locator('#folder').fill('people/ada');
  await page.locator('#metadata').fill('user=ada, kind=avatar');
  const avatars = await drop([{ name: 'ada.png', png: [48, 48, '#3b5bdb'] }, { name: 'ada-2.png', png: [32, 32, '#e8590c'] }]);
  await rowIs('ada.png', 'done');
  await rowIs('ada-2.png', 'done');
  if (issued.length !== 2 || issued.some((c) => c.length !== 1 || c[0] !== 'avatars')) fail('avatars were asked for as ' + JSON.stringify(issued));

  // A private document, no folder.
  await page.locator('#collection').selectOption('documents');
  await page.locator('#folder').fill('');
  await page.locator('#metadata').fill('kind=notes');
  await drop([{ name: 'notes.txt', type: 'text/plain', size: 100 }]);
  await rowIs('notes.txt', 'done');

  // Folders: the root shows people (2 files below it), people shows ada;
  // the breadcrumbs follow.
  /** @param {string} path @param {string} count */
  const folderShown = (path, count) =>
    page.locator(`#folders li[data-path="${path}"] .n`).filter({ hasText: new RegExp(`^${count}$`) }).waitFor({ timeout: 10_000 })
      .catch(async () => fail(`folder ${path} with ${count} not shown: ${await page.locator('#folders').innerText()}`));
  await folderShown('people', '2');
  await page.locator('#folders li[data-path="people"]').click();
  await folderShown('people/ada', '2');
  await page.locator('#folders li[data-path="people/ada"]').click();
  await page.locator('#crumbs .here').filter({ hasText: /^ada$/ }).waitFor({ timeout: 10_000 }).catch(() => fail('breadcrumbs do not end at ada'));
  const trail = await page.locator('#crumbs').innerText();
  if (trail.replace(/\s+/g, '') !== 'Allfiles/people/ada') fail('breadcrumbs: ' + trail);

  // The list: collection, folder, metadata; the public file's URL and its image.
  const row = page.locator('#files tr[data-name="ada.png"]');
  await row.waitFor({ timeout: 10_000 }).catch(() => fail('ada.png is not listed'));
  const cells = await row.evaluate((tr) => ({
    name: tr.querySelector('.name')?.textContent,
    collection: tr.querySelector('.collection')?.textContent,
    meta: [...tr.querySelectorAll('.meta .pair')].map((p) => p.textContent).sort(),
    url: tr.querySelector('a.public')?.getAttribute('href'),
  }));
  if (!cells.name?.startsWith('ada.png') || cells.collection !== 'avatarspublic' || cells.meta.join(' ') !== 'kind=avatar user=ada' || !cells.url)
    fail('ada.png listed as ' + JSON.stringify(cells));
  if (!/\/public\/avatars\/[0-9a-f]{32}\.png$/.test(cells.url)) fail('public URL ' + cells.url);
  await page.waitForFunction(() => {
    const img = /** @type {HTMLImageElement | null} */ (document.querySelector('#files tr[data-name="ada.png"] td.thumb img'));
    return img?.complete && img.naturalWidth === 48;
  }, null, { timeout: 10_000 }).catch(() => fail('the image from ada.png\'s URL did not load at 48 px'));
  await page.locator('#crumbs a[data-path=""]').click();
  await page.locator('#files tr[data-name="notes.txt"]').waitFor({ timeout: 10_000 }).catch(() => fail('notes.txt is not listed at the root'));
  const doc = await page.locator('#files tr[data-name="notes.txt"]').evaluate((tr) => ({ link: !!tr.querySelector('a.public'), img: !!tr.querySelector('img'), coll: tr.querySelector('.collection')?.textContent }));
  if (doc.link || doc.img || doc.coll !== 'documents') fail('notes.txt listed as ' + JSON.stringify(doc));

  // The URL is anyone's: no token, no signature, the same bytes.
  const res = await fetch(cells.url);
  const got = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200 || res.headers.get('content-type') !== 'image/png') fail(`GET ${cells.url}: ${res.status} ${res.headers.get('content-type')}`);
  if (sha(got) !== sha(Buffer.from(/** @type {string} */ (avatars['ada.png']), 'base64'))) fail(`ada.png from its URL differs: ${got.length} bytes`);

  // Filters: metadata pairs, and the collection.
  const listed = () => page.locator('#files tbody tr[data-name]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name')).sort().join(','));
  /** @param {string} want */
  const expectListed = (want) => page.waitForFunction((want) => [...document.querySelectorAll('#files tbody tr[data-name]')].map((r) => r.getAttribute('data-name')).sort().join(',') === want, want, { timeout: 10_000 })
    .catch(async () => fail(`listed ${await listed()}, want ${want}`));
  await page.locator('#filter-metadata').fill('kind=avatar, user=ada');
  await expectListed('ada-2.png,ada.png');
  await page.locator('#filter-metadata').fill('kind=notes');
  await expectListed('notes.txt');
  await page.locator('#filter-metadata').fill('');
  await page.locator('#filter-collection').selectOption('avatars');
  await expectListed('ada-2.png,ada.png');
  await page.locator('#filter-collection').selectOption('documents');
  await expectListed('notes.txt');
  // Unfiltered: the root's files again (and whatever the app's other tests
  // left there), the avatars under people.
  await page.locator('#filter-collection').selectOption('');
  await page.waitForFunction(() => !!document.querySelector('#files tr[data-name="notes.txt"]') && !document.querySelector('#files tr[data-name="ada.png"]'), null, { timeout: 10_000 })
    .catch(async () => fail('unfiltered list at the root: ' + (await listed())));
  await folderShown('people', '2');

  // Rename inline: ada-2.png becomes ada-small.png.
  await page.locator('#folders li[data-path="people"]').click();
  await page.locator('#folders li[data-path="people/ada"]').click();
  await page.locator('#files tr[data-name="ada-2.png"] [data-act=rename]').click();
  await page.locator('#files tr[data-name="ada-2.png"] input.renaming').fill('ada-small.png');
  await page.locator('#files tr[data-name="ada-2.png"] input.renaming').press('Enter');
  await expectListed('ada-small.png,ada.png');

  // Move: select it, move to people/grace; people then holds ada (1) and grace (1).
  await page.locator('#files tr[data-name="ada-small.png"] .pick input').check();
  if ((await page.locator('#bulk-count').innerText()) !== '1 selected') fail('bulk bar: ' + (await page.locator('#bulk').innerText()));
  await page.locator('#bulk-folder').fill('people/grace');
  await page.locator('#bulk-move').click();
  await expectListed('ada.png');
  await page.locator('#crumbs a[data-path="people"]').click();
  await folderShown('people/ada', '1');
  await folderShown('people/grace', '1');

  // A new folder exists in the page until a file is moved in; then on the server.
  await page.locator('#crumbs a[data-path=""]').click();
  await page.locator('#new-folder').click();
  await page.locator('#new-folder-name').fill('archive');
  await page.locator('#new-folder-name').press('Enter');
  await folderShown('archive', 'new');
  await page.locator('#files tr[data-name="notes.txt"] .pick input').check();
  await page.locator('#bulk-folder').fill('archive');
  await page.locator('#bulk-move').click();
  await folderShown('archive', '1');
  await folderShown('people', '2');
  if (process.env.ARTIFACTS) await page.screenshot({ path: `${process.env.ARTIFACTS}/folders-${process.env.NAME ?? 'demo'}.png`, fullPage: true });

  // Multi-select delete: every avatar (they are in two folders) at once.
  await page.locator('#filter-collection').selectOption('avatars');
  await expectListed('ada-small.png,ada.png');
  await page.locator('#select-all').check();
  if ((await page.locator('#bulk-count').innerText()) !== '2 selected') fail('select all: ' + (await page.locator('#bulk-count').innerText()));
  await page.locator('#bulk-delete').click();
  await page.waitForFunction(() => document.querySelectorAll('#files tbody tr[data-name]').length === 0, null, { timeout: 10_000 }).catch(async () => fail('after the delete: ' + (await listed())));
  await page.locator('#filter-collection').selectOption('');
  await page.locator('#folders li[data-path="people"]').waitFor({ state: 'detached', timeout: 10_000 }).catch(() => fail('people is still shown with no file in it'));
  await folderShown('archive', '1');
  await page.locator('#collection').selectOption('avatars');

  if (process.env.ARTIFACTS) await page.screenshot({ path: `${process.env.ARTIFACTS}/collections-${process.env.NAME ?? 'demo'}.png`, fullPage: true });
  if (blocked.length) fail('the page asked for other hosts: ' + blocked.join(', '));
  const unexpected = problems.filter((p) => !(p.includes('status of 400') && notFound-- > 0));
  if (unexpected.length) fail(unexpected.join('; '));
  console.log(`refused before asking: "${saidHuge}"; "${saidJpg}"`);
  console.log(`OK avatars asked for one per request (${issued.length} createUploadUrls in all), ada.png's URL ${cells.url} served ${got.length} bytes unsigned, its image shown; filtered by metadata and collection; folders browsed, a file renamed, moved, a new folder filled, 2 deleted at once`);
} finally {
  await browser.close();
}
