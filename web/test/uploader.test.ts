// The Uploader against a real HTTP server (test/filegraph.ts): each test
// says which PUTs fail and how, and checks the PUTs that arrived, the
// bytes stored and the status the page would show.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CreateMultipartUploads, FetchHttpStack, UploadPartUrls, Uploader, createApi, type Upload, type UploaderOptions } from '../src/uploader';
import { Filegraph } from './filegraph';

let fg: Filegraph;
beforeEach(async () => {
  fg = await Filegraph.start();
});
afterEach(() => fg.close());

/** Bytes from a seed (xorshift32): every file and part differs. */
function bytes(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const fileOf = (name: string, size: number, seed = 1) => new File([bytes(size, seed)], name, { type: 'application/octet-stream' });
const api = () => createApi({ url: fg.url + '/query', persisted: false });
const uploader = (options: Partial<UploaderOptions> = {}) =>
  new Uploader({ api: api(), httpStack: new FetchHttpStack(), retryDelay: () => 1, ...options });

async function stored(upload: Upload): Promise<Buffer | undefined> {
  return fg.objects.get(upload.fileName!);
}

async function sameBytes(upload: Upload) {
  const want = Buffer.from(await upload.file.arrayBuffer());
  expect((await stored(upload))?.equals(want)).toBe(true);
  expect(upload.saved?.size).toBe(upload.file.size);
}

describe('one PUT', () => {
  test('a PUT that got no answer is sent again and saved', async () => {
    fg.fault = ({ n }) => (n === 1 ? 'drop' : undefined);
    const u = uploader();
    const [upload] = u.add([fileOf('a.bin', 3000)]);
    await u.idle();
    expect(upload!.status).toBe('done');
    expect(fg.outcomes(upload!.fileName!)).toEqual(['dropped', 200]);
    await sameBytes(upload!);
  });

  test('5xx is retried, with the same URL, until it passes', async () => {
    fg.fault = ({ n }) => (n <= 2 ? 503 : undefined);
    const u = uploader();
    const [upload] = u.add([fileOf('b.bin', 3000)]);
    await u.idle();
    expect(upload!.status).toBe('done');
    expect(fg.outcomes(upload!.fileName!)).toEqual([503, 503, 200]);
    expect(fg.operations.filter((o) => o === 'CreateUploadUrls')).toHaveLength(1);
    await sameBytes(upload!);
  });

  test('retries run out: the upload fails with the last status', async () => {
    fg.fault = () => 500;
    const u = uploader({ retries: 2 });
    const [upload] = u.add([fileOf('c.bin', 100)]);
    await u.idle();
    expect(upload!.status).toBe('failed');
    expect(upload!.error?.code).toBe('STORAGE_REJECTED');
    expect(upload!.error?.details.status).toBe(500);
    expect(fg.outcomes(upload!.fileName!)).toEqual([500, 500, 500]);
    expect(fg.operations).not.toContain('SaveFiles');
  });

  test('4xx is not retried', async () => {
    fg.fault = ({ n }) => (n === 1 ? 400 : undefined);
    const u = uploader();
    const [upload] = u.add([fileOf('d.bin', 100)]);
    await u.idle();
    expect(upload!.status).toBe('failed');
    expect(upload!.error?.details.status).toBe(400);
    expect(fg.outcomes(upload!.fileName!)).toEqual([400]);
  });

  test('a retried PUT answered 412 is taken as arrived, then saved', async () => {
    // The first PUT is stored but its answer lost; the second meets the
    // write-once URL's If-None-Match.
    fg.fault = ({ n }) => (n === 1 ? 'lose-answer' : undefined);
    const u = uploader();
    const [upload] = u.add([fileOf('e.bin', 5000)]);
    await u.idle();
    expect(upload!.status).toBe('done');
    expect(fg.outcomes(upload!.fileName!)).toEqual(['lost', 412]);
    expect(fg.operations.filter((o) => o === 'CreateUploadUrls')).toHaveLength(1);
    expect(fg.operations.filter((o) => o === 'SaveFiles')).toHaveLength(1);
    await sameBytes(upload!);
  });

  test('files added together get their URLs in one call', async () => {
    const u = uploader({ concurrency: 3 });
    const uploads = u.add([fileOf('f1.bin', 10, 1), fileOf('f2.bin', 20, 2), fileOf('f3.bin', 30, 3)]);
    await u.idle();
    expect(uploads.map((x) => x.status)).toEqual(['done', 'done', 'done']);
    expect(fg.operations.filter((o) => o === 'CreateUploadUrls')).toHaveLength(1);
    for (const x of uploads) await sameBytes(x);
  });

  test('cancel stops the PUT in flight and saves nothing', async () => {
    fg.fault = () => 'hold';
    const held = fg.held();
    const u = uploader();
    const [upload] = u.add([fileOf('g.bin', 4000)]);
    await held;
    u.cancel(upload!);
    await fg.until((p) => p.fileName === upload!.fileName && p.outcome === 'closed by the client');
    await u.idle();
    expect(upload!.status).toBe('canceled');
    expect(fg.objects.size).toBe(0);
    expect(fg.operations).not.toContain('SaveFiles');
  });
});

describe('in parts', () => {
  // 1024-byte parts: 5 parts, the last one shorter.
  const size = 5 * 1024 - 100;
  const inParts = { multipartThreshold: 1024, partConcurrency: 2 };
  const partsOf = (fileName: string) =>
    Object.fromEntries([1, 2, 3, 4, 5].map((n) => [n, fg.outcomes(fileName, n)]));

  test('each part is retried on its own: no answer, 5xx, a lost answer', async () => {
    fg.fault = ({ part, n }) => (n > 1 ? undefined : part === 2 ? 500 : part === 3 ? 'drop' : part === 4 ? 'lose-answer' : undefined);
    const u = uploader(inParts);
    const [upload] = u.add([fileOf('p.bin', size)]);
    await u.idle();
    expect(upload!.status).toBe('done');
    expect(upload!.multipart).toBe(true);
    expect(partsOf(upload!.fileName!)).toEqual({ 1: [200], 2: [500, 200], 3: ['dropped', 200], 4: ['lost', 200], 5: [200] });
    await sameBytes(upload!);
  });

  test('resume after a reload sends only the missing parts', async () => {
    const file = fileOf('r.bin', size, 7);
    // Before the "reload": the upload created and parts 1 and 3 stored.
    const before = api();
    const { createMultipartUploads } = await before.mutate(CreateMultipartUploads, {
      files: [{ originalName: file.name, size: file.size, contentType: file.type, partChecksums: false }],
    });
    const m = createMultipartUploads[0]!;
    for (const n of [1, 3]) {
      const { uploadPartUrls } = await before.mutate(UploadPartUrls, { fileName: m.fileName, parts: [{ partNumber: n }] });
      const res = await fetch(uploadPartUrls[0]!.url, { method: 'PUT', body: file.slice((n - 1) * 1024, n * 1024), signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(200);
    }

    // A new page: it finds the upload and is given the same file again. The
    // threshold is above the file's size: only the resume puts it in parts.
    const u = uploader({ multipartThreshold: 1 << 30 });
    const pending = await u.pending();
    expect(pending.map((p) => p.fileName)).toEqual([m.fileName]);
    const progress: number[] = [];
    u.addEventListener('progress', (e) => progress.push((e as CustomEvent<Upload>).detail.loaded));
    const [upload] = u.add([file], pending);
    await u.idle();
    expect(upload!.status).toBe('done');
    expect(partsOf(m.fileName)).toEqual({ 1: [200], 2: [200], 3: [200], 4: [200], 5: [200] });
    expect(fg.puts.filter((p) => p.part !== undefined)).toHaveLength(5); // 2 before, 3 after
    expect(progress[0]).toBe(2048); // the stored parts count from the start
    await sameBytes(upload!);
  });

  test('pause stops the parts in flight; resume sends only the rest', async () => {
    fg.fault = ({ part, n }) => (part === 3 && n === 1 ? 'hold' : undefined);
    const held = fg.held();
    const u = uploader({ ...inParts, partConcurrency: 1 });
    const [upload] = u.add([fileOf('q.bin', size)]);
    expect((await held).part).toBe(3);
    u.pause(upload!);
    await fg.until((p) => p.part === 3 && p.outcome === 'closed by the client');
    await u.idle();
    expect(upload!.status).toBe('paused');
    const name = upload!.fileName!;
    expect(partsOf(name)).toEqual({ 1: [200], 2: [200], 3: ['closed by the client'], 4: [], 5: [] });

    u.resume(upload!);
    await u.idle();
    expect(upload!.status).toBe('done');
    expect(partsOf(name)).toEqual({ 1: [200], 2: [200], 3: ['closed by the client', 200], 4: [200], 5: [200] });
    await sameBytes(upload!);
  });

  test('cancel stops the parts and aborts the upload on the server', async () => {
    fg.fault = ({ part }) => (part === 2 ? 'hold' : undefined);
    const held = fg.held();
    const u = uploader({ ...inParts, partConcurrency: 1 });
    const [upload] = u.add([fileOf('s.bin', size)]);
    await held;
    const aborted = new Promise((resolve) => fg.once('aborted', resolve));
    u.cancel(upload!);
    expect(await aborted).toBe(upload!.fileName);
    await fg.until((p) => p.part === 2 && p.outcome === 'closed by the client');
    await u.idle();
    expect(upload!.status).toBe('canceled');
    expect(fg.pending.has(upload!.fileName!)).toBe(false);
    expect(fg.outcomes(upload!.fileName!, 3)).toEqual([]);
    expect(fg.operations).not.toContain('SaveFiles');
  });
});
