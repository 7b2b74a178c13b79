// Thumbnails in the demo app, in Chromium against a running Filegraph whose
// COLLECTIONS_FILE has images (image/jpeg, image/png; variants thumb 64x64
// cover): a real JPEG and a real PNG (encoded by the browser's canvas) are
// dropped into images; the list must show each one's thumb once the
// server's variants job has made it: an <img> whose src is the variant's
// url a Files answer listed, whose width/height attributes and decoded
// size (naturalWidth/naturalHeight) are the variant's 64x64, fetched from
// that url as an image, while the original's object is never fetched. A
// screenshot is left for a person.
// Env: APP_URL, TOKEN, ALLOW (the storage's origin), ARTIFACTS, NAME.
import { randomBytes } from 'node:crypto';
import { launch, isolatedContext, fail, need, watch } from './browser.mjs';

const appURL = need('APP_URL');
const allow = [appURL, ...(process.env.ALLOW ?? '').split(',').filter(Boolean)];
const tag = randomBytes(3).toString('hex');
const images = [
  { name: `th-${tag}-photo.jpg`, type: 'image/jpeg', width: 640, height: 480, hue: 210 },
  { name: `th-${tag}-poster.png`, type: 'image/png', width: 300, height: 500, hue: 20 },
];
const THUMB = { width: 64, height: 64 };

const browser = await launch();
try {
  const { context, blocked } = await isolatedContext(browser, allow, { viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  const problems = watch(page);
  let notFound = 0;
  /** The latest Files answer's nodes, by original name. @type {Map<string, any>} */
  const listed = new Map();
  /**
   * Every thumb url any Files answer listed, by original name: the page
   * renders only its latest load's answer, and the answer this handler saw
   * last may be one the page dropped or has not rendered yet (each answer
   * signs its urls anew).
   * @type {Map<string, Set<string>>}
   */
  const thumbURLs = new Map();
  /** Every GET the page made, with its answer. @type {{ url: string, status: number, type: string }[]} */
  const gets = [];
  page.on('response', async (res) => {
    const req = res.request();
    if (req.method() === 'GET') gets.push({ url: req.url(), status: res.status(), type: res.headers()['content-type'] ?? '' });
    if (req.method() !== 'POST' || !req.url().endsWith('/query')) return;
    const body = await res.text().catch(() => '');
    if (res.status() === 400 && body.includes('PERSISTED_QUERY_NOT_FOUND')) notFound++;
    if (JSON.parse(req.postData() ?? '{}').operationName !== 'Files') return;
    for (const e of JSON.parse(body || '{}').data?.files?.edges ?? []) {
      if (!e?.node) continue;
      listed.set(e.node.originalName, e.node);
      const url = e.node.variants?.find((/** @type {any} */ x) => x.name === 'thumb')?.url;
      if (url) thumbURLs.set(e.node.originalName, (thumbURLs.get(e.node.originalName) ?? new Set()).add(url));
    }
  });

  const token = process.env.TOKEN ?? '';
  await page.goto(appURL + (token ? '?token=' + encodeURIComponent(token) : ''));
  await page.locator('#collection option[value="images"]').waitFor({ state: 'attached', timeout: 15_000 }).catch(() => fail('no images collection to pick: ' + problems.join('; ')));
  await page.locator('#collection').selectOption('images');
  const started = Date.now();
  /** The thumbs' object paths, whatever the signature. @type {Set<string>} */
  const thumbPaths = new Set();
  // Real files: the browser's own JPEG and PNG encoders, of a picture with
  // something to see in a thumbnail (a gradient, a disc, the name).
  await page.evaluate(async (list) => {
    const dt = new DataTransfer();
    for (const f of list) {
      const c = document.createElement('canvas');
      c.width = f.width;
      c.height = f.height;
      const g = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
      const grad = g.createLinearGradient(0, 0, f.width, f.height);
      grad.addColorStop(0, `hsl(${f.hue} 80% 45%)`);
      grad.addColorStop(1, `hsl(${f.hue + 120} 80% 60%)`);
      g.fillStyle = grad;
      g.fillRect(0, 0, f.width, f.height);
      g.fillStyle = '#fff';
      g.beginPath();
      g.arc(f.width / 2, f.height / 2, Math.min(f.width, f.height) / 4, 0, 2 * Math.PI);
      g.fill();
      g.fillStyle = '#000';
      g.font = 'bold 28px sans-serif';
      g.fillText(f.type, 16, 40);
      const blob = await new Promise((resolve) => c.toBlob(resolve, f.type, 0.9));
      if (!(blob instanceof Blob) || blob.type !== f.type) throw new Error(`canvas made no ${f.type}`);
      dt.items.add(new File([blob], f.name, { type: f.type }));
    }
    document.querySelector('#drop')?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, images);
  for (const f of images) {
    await page.locator(`.upload[data-name="${f.name}"][data-status="done"]`).waitFor({ timeout: 60_000 }).catch(() => fail(`${f.name} did not finish: ${problems.join('; ')}`));
  }
  const saved = Date.now();

  for (const f of images) {
    const sel = `#files tr[data-name="${f.name}"] td.thumb img.variant`;
    // Decoded, not just in the DOM: the job made it, the list showed it.
    // Read in the same step: a reload of the list may put a new <img> there.
    const shown = await page.waitForFunction((s) => {
      const i = /** @type {HTMLImageElement | null} */ (document.querySelector(s));
      if (!i || !i.complete || i.naturalWidth === 0) return null;
      return { src: i.currentSrc || i.src, alt: i.alt, w: i.getAttribute('width'), h: i.getAttribute('height'), nw: i.naturalWidth, nh: i.naturalHeight, variant: i.dataset.variant };
    }, sel, { timeout: 90_000 }).catch(() => fail(`no thumbnail of ${f.name} rendered within 90 s: ${problems.join('; ')}`));
    const img = (await shown.jsonValue()) ?? fail(`${f.name}: the thumbnail's <img> went away`);
    // The answer the page rendered may still be read by the handler above.
    for (const until = Date.now() + 5_000; !thumbURLs.get(f.name)?.has(img.src) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    const node = listed.get(f.name);
    const v = node?.variants?.find((/** @type {any} */ x) => x.name === 'thumb');
    if (!v) fail(`${f.name}: the page shows a thumbnail no Files answer listed: ${JSON.stringify(node?.variants)}`);
    if (v.width !== THUMB.width || v.height !== THUMB.height) fail(`${f.name}: thumb listed as ${v.width}x${v.height}, the collection says ${THUMB.width}x${THUMB.height} cover`);
    if (!thumbURLs.get(f.name)?.has(img.src)) fail(`${f.name}: <img> src ${img.src}, not a thumb url a Files answer listed (${[...(thumbURLs.get(f.name) ?? [])].join(', ')})`);
    if (img.variant !== 'thumb' || img.alt !== f.name) fail(`${f.name}: <img> variant ${img.variant}, alt ${img.alt}`);
    if (img.w !== String(v.width) || img.h !== String(v.height)) fail(`${f.name}: <img> width/height attributes ${img.w}x${img.h}, want ${v.width}x${v.height}`);
    if (img.nw !== v.width || img.nh !== v.height) fail(`${f.name}: the image decoded is ${img.nw}x${img.nh}, the variant promised ${v.width}x${v.height}`);
    const got = gets.filter((g) => g.url === img.src);
    thumbPaths.add(new URL(img.src).pathname);
    if (got.length === 0 || got.some((g) => g.status !== 200 || !g.type.startsWith('image/'))) fail(`${f.name}: the thumb's url was fetched as ${JSON.stringify(got)}`);
    // The original stays where it is: neither its key nor its listed link was asked for.
    const original = node.downloadUrl?.url ? new URL(node.downloadUrl.url).pathname : undefined;
    if (!original) fail(`${f.name}: listed without its downloadUrl`);
    const fetchedOriginal = gets.filter((g) => new URL(g.url).pathname === original);
    if (fetchedOriginal.length) fail(`${f.name}: the page fetched the original: ${fetchedOriginal.map((g) => g.url).join(', ')}`);
    console.log(`${f.name} (${f.width}x${f.height} ${f.type}): thumb ${img.nw}x${img.nh} from its variant url (${got[0]?.type}), shown ${((Date.now() - saved) / 1000).toFixed(1)} s after the saves`);
  }

  // A reload of the list (typing a filter) keeps the thumbnails shown: each
  // answer signs the urls anew, and the page must not fetch them again.
  const thumbGets = () => gets.filter((g) => thumbPaths.has(new URL(g.url).pathname)).length;
  const before = thumbGets();
  // Signatures name the second they were made: in the next one, a new <img>
  // would have a new url, one the browser's cache cannot answer.
  await page.waitForTimeout(1100);
  const answered = page.waitForResponse((r) => r.url().endsWith('/query') && JSON.parse(r.request().postData() ?? '{}').operationName === 'Files', { timeout: 15_000 });
  await page.locator('#filter').fill(`th-${tag}`);
  await answered.catch(() => fail('typing a filter did not reload the list'));
  await page.waitForFunction((n) => document.querySelectorAll('#files tbody tr[data-name]').length === n && document.querySelectorAll('#files tbody td.thumb img.variant').length === n, images.length, { timeout: 15_000 }).catch(() => fail('the filtered list lost its thumbnails'));
  await page.waitForFunction(() => [...document.querySelectorAll('#files td.thumb img')].every((i) => /** @type {HTMLImageElement} */ (i).complete && /** @type {HTMLImageElement} */ (i).naturalWidth > 0));
  if (thumbGets() !== before) fail(`the reload fetched the thumbnails again: ${thumbGets() - before} more GETs of them`);
  if (process.env.ARTIFACTS) await page.screenshot({ path: `${process.env.ARTIFACTS}/thumbs-${process.env.NAME ?? 'demo'}.png`, fullPage: true });
  if (blocked.length) fail('the page asked for other hosts: ' + blocked.join(', '));
  const unexpected = problems.filter((p) => !(p.includes('status of 400') && notFound-- > 0));
  if (unexpected.length) fail(unexpected.join('; '));
  console.log(`OK ${images.length} thumbnails (JPEG, PNG) rendered from their variant urls at ${THUMB.width}x${THUMB.height}, no original fetched; ${((Date.now() - started) / 1000).toFixed(1)} s from drop to the last check`);
} finally {
  await browser.close();
}
