// Downloads from the list: listFiles brings each file's link (File.downloadUrl)
// in the Files request, downloadLink uses it while it has time left and asks
// fileDownloadUrl only once it has expired; a file the virus scan holds is
// listed without a link and its reason, the rest of the page intact. Against
// the real HTTP stand-in (test/filegraph.ts): every operation it ran is
// counted, and the bytes each link GETs are compared.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FetchHttpStack, FilegraphError, LINK_MARGIN_MS, Uploader, createApi, describe as sentence, downloadLink, listFiles, thumbnailFor } from '../src/uploader';
import { Filegraph } from './filegraph';

let fg: Filegraph;
beforeEach(async () => {
  fg = await Filegraph.start();
});
afterEach(() => fg.close());

const api = () => createApi({ url: fg.url + '/query', persisted: false });

/** Uploads files of distinct bytes; their contents by original name. */
async function upload(names: string[]): Promise<Map<string, Buffer>> {
  const u = new Uploader({ api: api(), httpStack: new FetchHttpStack(), retryDelay: () => 1 });
  const want = new Map(names.map((n, i) => [n, Buffer.from(`${n}: ${'x'.repeat(100 * (i + 1))}\n`)]));
  const ups = u.add(names.map((n) => new File([want.get(n)!], n, { type: 'text/plain' })));
  await u.idle();
  for (const up of ups) expect(up.status).toBe('done');
  return want;
}

async function get(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

const asked = (name: string) => fg.operations.filter((o) => o === name).length;

describe('downloads from the list', () => {
  test('each listed file downloads by the link the list brought: no fileDownloadUrl', async () => {
    const want = await upload(['a.txt', 'b.txt', 'c.txt']);
    fg.operations.length = 0;
    const a = api();
    const { files, unavailable } = await listFiles(a, { first: 10 });
    expect(unavailable.size).toBe(0);
    const nodes = (files.edges ?? []).map((e) => e!.node!);
    expect(nodes.map((n) => n.originalName)).toEqual(['c.txt', 'b.txt', 'a.txt']);
    for (const f of nodes) {
      expect(f.downloadUrl).not.toBeNull();
      const { status, body } = await get(await downloadLink(a, f));
      expect(status).toBe(200);
      expect(body.equals(want.get(f.originalName)!)).toBe(true);
    }
    expect(fg.operations).toEqual(['Files']);
  });

  test('an expired link is asked for anew, once, and that one downloads', async () => {
    const want = await upload(['old.txt']);
    fg.linkTTL = 1; // the listed link expires at once
    const a = api();
    const f = (await listFiles(a, { first: 10 })).files.edges![0]!.node!;
    await new Promise((r) => setTimeout(r, 5));
    // The storage refuses the listed link now: the client must not use it.
    expect((await get(f.downloadUrl!.url)).status).toBe(403);
    fg.linkTTL = 15 * 60_000;
    fg.operations.length = 0;
    const { status, body } = await get(await downloadLink(a, f));
    expect(status).toBe(200);
    expect(body.equals(want.get('old.txt')!)).toBe(true);
    expect(fg.operations).toEqual(['FileDownloadUrl']);
  });

  test('a link about to expire counts as expired (LINK_MARGIN_MS)', async () => {
    await upload(['edge.txt']);
    const a = api();
    const f = (await listFiles(a, { first: 10 })).files.edges![0]!.node!;
    const expires = Date.parse(f.downloadUrl!.expiresAt);
    fg.operations.length = 0;
    expect(await downloadLink(a, f, { now: expires - LINK_MARGIN_MS - 1000 })).toBe(f.downloadUrl!.url);
    expect(asked('FileDownloadUrl')).toBe(0);
    expect(await downloadLink(a, f, { now: expires - LINK_MARGIN_MS })).not.toBe(f.downloadUrl!.url);
    expect(asked('FileDownloadUrl')).toBe(1);
  });

  test('files the scan holds are listed without a link, with their reason; the rest download', async () => {
    const want = await upload(['clean.txt', 'held.txt', 'bad.txt']);
    fg.saved.find((f) => f.originalName === 'held.txt')!.status = 'SCANNING';
    Object.assign(fg.saved.find((f) => f.originalName === 'bad.txt')!, { status: 'INFECTED', scanResult: 'Eicar-Signature' });
    const a = api();
    const { files, unavailable } = await listFiles(a, { first: 10 });
    const byName = new Map((files.edges ?? []).map((e) => [e!.node!.originalName, e!.node!]));
    expect(byName.size).toBe(3);
    const held = byName.get('held.txt')!;
    const bad = byName.get('bad.txt')!;
    expect(held.downloadUrl).toBeNull();
    expect(bad.downloadUrl).toBeNull();
    expect(unavailable.get(held.id)).toMatchObject({ code: 'FILE_NOT_READY', details: { fileStatus: 'SCANNING' } });
    expect(unavailable.get(bad.id)).toMatchObject({ code: 'FILE_INFECTED' });
    expect(unavailable.size).toBe(2);
    const clean = byName.get('clean.txt')!;
    expect((await get(await downloadLink(a, clean))).body.equals(want.get('clean.txt')!)).toBe(true);
    // No link: the server is asked (the scan may have ended since), and says why.
    await expect(downloadLink(a, held)).rejects.toMatchObject({ code: 'FILE_NOT_READY' });
    // Scanned since: the fallback downloads it.
    fg.saved.find((f) => f.originalName === 'held.txt')!.status = 'READY';
    expect((await get(await downloadLink(a, held))).body.equals(want.get('held.txt')!)).toBe(true);
  });

  test('an error anywhere but a file link fails the list', async () => {
    await upload(['x.txt']);
    // A nullable field other than downloadUrl nulled with an error.
    fg.scanResultOf = () => {
      throw new Error('scanner record unreadable');
    };
    const listing = listFiles(api(), { first: 10 });
    await expect(listing).rejects.toBeInstanceOf(FilegraphError);
    await expect(listing).rejects.toThrow('scanner record unreadable');
  });
});

describe('variants', () => {
  test('listed with the page once made, each downloading its own bytes: no fileDownloadUrl', async () => {
    const want = await upload(['photo.jpg', 'notes.txt']);
    const photo = fg.saved.find((f) => f.originalName === 'photo.jpg')!;
    const thumb = Buffer.from('thumb bytes, not the original');
    const preview = Buffer.from('preview bytes, larger than the thumb');
    fg.addVariant(photo, 'thumb', 64, 64, thumb);
    fg.addVariant(photo, 'preview', 256, 192, preview);
    fg.operations.length = 0;
    const a = api();
    const nodes = (await listFiles(a, { first: 10 })).files.edges!.map((e) => e!.node!);
    const [p, n] = [nodes.find((x) => x.originalName === 'photo.jpg')!, nodes.find((x) => x.originalName === 'notes.txt')!];
    expect(p.variants.map((v) => [v.name, v.width, v.height])).toEqual([['thumb', 64, 64], ['preview', 256, 192]]);
    expect(n.variants).toEqual([]);
    expect(thumbnailFor(n, 'thumb')).toBeUndefined();
    expect(thumbnailFor(p, 'thumb')!.name).toBe('thumb');
    // The smallest covering the box; the largest when none covers it.
    expect(thumbnailFor(p, { width: 40, height: 40 })!.name).toBe('thumb');
    expect(thumbnailFor(p, { width: 65, height: 10 })!.name).toBe('preview');
    expect(thumbnailFor(p, { width: 2000, height: 2000 })!.name).toBe('preview');
    expect((await get(thumbnailFor(p, 'thumb')!.url)).body.equals(thumb)).toBe(true);
    expect((await get(await downloadLink(a, p, { variant: 'thumb' }))).body.equals(thumb)).toBe(true);
    expect((await get(await downloadLink(a, p, { variant: 'preview' }))).body.equals(preview)).toBe(true);
    expect((await get(await downloadLink(a, p))).body.equals(want.get('photo.jpg')!)).toBe(true);
    expect(fg.operations).toEqual(['Files']);
  });

  test('a variant listed with an expired link, or not listed, is asked of fileDownloadUrl(id, variant)', async () => {
    await upload(['late.png']);
    const f = fg.saved[0]!;
    fg.linkTTL = 1;
    fg.addVariant(f, 'thumb', 64, 64, Buffer.from('late thumb'));
    const a = api();
    const listed = (await listFiles(a, { first: 10 })).files.edges![0]!.node!;
    await new Promise((r) => setTimeout(r, 5));
    expect((await get(listed.variants[0]!.url)).status).toBe(403);
    fg.linkTTL = 15 * 60_000;
    fg.operations.length = 0;
    expect((await get(await downloadLink(a, listed, { variant: 'thumb' }))).body.toString()).toBe('late thumb');
    expect(fg.operations).toEqual(['FileDownloadUrl']);
    // Listed before the variant was made: asked, and served once it exists.
    await upload(['early.png']);
    const early = fg.saved[1]!;
    const before = (await listFiles(a, { first: 10 })).files.edges!.map((e) => e!.node!).find((x) => x.id === early.id)!;
    expect(before.variants).toEqual([]);
    fg.addVariant(early, 'thumb', 64, 48, Buffer.from('made since'));
    expect((await get(await downloadLink(a, before, { variant: 'thumb' }))).body.toString()).toBe('made since');
  });

  test('VARIANT_NOT_READY while its job is due or for a file that is no image; BAD_USER_INPUT for a name not configured', async () => {
    await upload(['soon.png', 'not-an-image.png']);
    const [soon, broken] = fg.saved as [(typeof fg.saved)[number], (typeof fg.saved)[number]];
    broken.variantsPending = false;
    const a = api();
    const nodes = (await listFiles(a, { first: 10 })).files.edges!.map((e) => e!.node!);
    const node = (id: string) => nodes.find((x) => x.id === id)!;
    const due = await downloadLink(a, node(soon.id), { variant: 'thumb' }).catch((e: unknown) => e);
    expect(due).toBeInstanceOf(FilegraphError);
    expect(due).toMatchObject({ code: 'VARIANT_NOT_READY', details: { variant: 'thumb', pending: true } });
    expect(sentence(due)).toBe('The thumb of this file is still being made; try again in a moment.');
    const never = await downloadLink(a, node(broken.id), { variant: 'preview' }).catch((e: unknown) => e);
    expect(never).toMatchObject({ code: 'VARIANT_NOT_READY', details: { variant: 'preview', pending: false } });
    expect(sentence(never)).toBe('This file has no preview: it is not an image that could be read.');
    const unknown = await downloadLink(a, node(soon.id), { variant: 'huge' }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: 'BAD_USER_INPUT', details: { problems: [{ field: 'variant' }] } });
    expect(sentence(unknown)).toContain('"huge" is not one of');
  });

  test('a file the scan holds lists no variants, and its variant links say why', async () => {
    await upload(['held.png']);
    const f = fg.saved[0]!;
    fg.addVariant(f, 'thumb', 64, 64, Buffer.from('made before the hold'));
    f.status = 'SCANNING';
    const a = api();
    const node = (await listFiles(a, { first: 10 })).files.edges![0]!.node!;
    expect(node.variants).toEqual([]);
    await expect(downloadLink(a, node, { variant: 'thumb' })).rejects.toMatchObject({ code: 'FILE_NOT_READY' });
  });
});
