// A file in parts: the transfer that Uppy's MultipartUploader is. Which
// parts the storage holds is read from the server on every start, so a
// resume (after a pause, a failure or a reload) sends only what is missing.
import type { Api } from './api';
import { sha256Base64 } from './checksum';
import { PendingUploadParts, UploadPartUrls } from './documents';
import { FilegraphError } from './errors';
import type { HttpStack, PutRequest } from './http';
import { retrying, type RetryPolicy } from './retry';

/** An upload in parts, as createMultipartUploads (or `uploads`) tells it. */
export interface PartsLayout {
  fileName: string;
  partSize: number;
  partCount: number;
}

export interface PartsTransferOptions {
  api: Api;
  stack: HttpStack;
  policy: RetryPolicy;
  /** Sign each part for its SHA-256 (then one uploadPartUrls call per part). */
  checksums: boolean;
  /** Parts in flight at once. */
  concurrency: number;
}

type PartTarget = PutRequest & { expiresAt: string };

/** URLs asked for at once when parts carry no checksums (the API's maximum). */
const URL_BATCH = 100;

export class PartsTransfer {
  constructor(
    private readonly file: Blob,
    readonly layout: PartsLayout,
    private readonly options: PartsTransferOptions,
  ) {}

  /** Bytes of part n (the last one holds the rest). */
  private sizeOf(n: number) {
    const { partSize, partCount } = this.layout;
    return n < partCount ? partSize : this.file.size - partSize * (partCount - 1);
  }

  /** Part numbers the storage does not hold whole, and the bytes it does. */
  private async missing(signal: AbortSignal): Promise<{ todo: number[]; stored: number }> {
    const { api, policy } = this.options;
    const { upload } = await retrying(policy, signal, () => api.query(PendingUploadParts, { fileName: this.layout.fileName }));
    if (!upload) throw new FilegraphError('NOT_FOUND', 'this upload is no longer pending: it was saved, aborted, or expired');
    const have = new Set(upload.uploadedParts.filter((p) => p.size === this.sizeOf(p.partNumber)).map((p) => p.partNumber));
    const todo: number[] = [];
    let stored = 0;
    for (let n = 1; n <= this.layout.partCount; n++) {
      if (have.has(n)) stored += this.sizeOf(n);
      else todo.push(n);
    }
    return { todo, stored };
  }

  /**
   * Uploads the missing parts, `concurrency` at a time, each part tried as
   * the retry policy says, on its own. onProgress gets the bytes the
   * storage holds plus those in flight.
   */
  async send(signal: AbortSignal, onProgress: (loaded: number) => void): Promise<void> {
    const { todo, stored } = await this.missing(signal);
    let done = stored;
    const sending = new Map<number, number>();
    const report = () => {
      let loaded = done;
      for (const l of sending.values()) loaded += l;
      onProgress(Math.min(loaded, this.file.size));
    };
    report();

    const urlFor = this.urls(todo);
    const { stack, policy } = this.options;
    const putPart = (n: number, signal: AbortSignal) => {
      const start = this.layout.partSize * (n - 1);
      const body = this.file.slice(start, start + this.sizeOf(n));
      return retrying(policy, signal, async () => {
        const target = await urlFor(n, body);
        const onProgress = (l: number) => {
          sending.set(n, l);
          report();
        };
        const status = await stack.put(target, body, { signal, onProgress }).finally(() => sending.delete(n));
        if (status >= 200 && status < 300) return;
        // A part URL refused is taken for expired and asked for again.
        if (status === 403) urlFor.forget(n);
        throw new FilegraphError('STORAGE_REJECTED', `the storage answered ${status} for part ${n}`, { status, expired: status === 403 });
      }).then(() => {
        done += body.size;
        report();
      });
    };

    // One part failing for good stops its siblings too.
    const all = new AbortController();
    const stop = () => all.abort();
    signal.addEventListener('abort', stop, { once: true });
    const worker = async () => {
      for (let n = todo.shift(); n !== undefined; n = todo.shift()) await putPart(n, all.signal);
    };
    try {
      await Promise.all(
        Array.from({ length: Math.min(this.options.concurrency, todo.length) }, () =>
          worker().catch((e) => {
            all.abort();
            throw e;
          }),
        ),
      );
    } finally {
      signal.removeEventListener('abort', stop);
    }
    if (signal.aborted) throw new FilegraphError('ABORTED', 'aborted');
  }

  /**
   * The URL for a part. With checksums each is signed for its part's hash,
   * one call a part; without, up to URL_BATCH are asked for in one call,
   * one call at a time, for this part and the next ones still to go.
   * `todo` is read live: parts already taken by a worker are not asked for.
   */
  private urls(todo: number[]) {
    const { api, checksums } = this.options;
    const { fileName } = this.layout;
    const cache = new Map<number, PartTarget>();
    let asking: Promise<void> | undefined;
    const urlFor = async (n: number, body: Blob): Promise<PartTarget> => {
      if (checksums) {
        const checksumSHA256 = await sha256Base64(body);
        const { uploadPartUrls } = await api.mutate(UploadPartUrls, { fileName, parts: [{ partNumber: n, checksumSHA256 }] });
        return uploadPartUrls[0]!;
      }
      for (;;) {
        const u = cache.get(n);
        if (u && Date.parse(u.expiresAt) > Date.now() + 30_000) return u;
        cache.delete(n);
        asking ??= (async () => {
          const want = [n, ...todo.filter((m) => m !== n && !cache.has(m))].slice(0, URL_BATCH);
          const { uploadPartUrls } = await api.mutate(UploadPartUrls, { fileName, parts: want.map((partNumber) => ({ partNumber })) });
          for (const p of uploadPartUrls) cache.set(p.partNumber, p);
        })().finally(() => (asking = undefined));
        await asking;
      }
    };
    return Object.assign(urlFor, { forget: (n: number) => cache.delete(n) });
  }
}
