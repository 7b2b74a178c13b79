// The upload client: many files at once, each issued, PUT straight to the
// storage and saved, with progress, retries, pause, resume and cancel.
// It knows no UI: a page listens to its events and renders `uploads`.
import type { Api } from './api';
import { AbortUpload, CreateMultipartUploads, CreateUploadUrls, PendingUploadParts, PendingUploads, SaveFiles, UploadPartUrls } from './documents';
import { FilegraphError } from './errors';
import type { PendingUploadsQuery } from '../gql/graphql';
import { backoff, put, sleep, type PutRequest } from './transfer';

export type UploadStatus = 'queued' | 'uploading' | 'paused' | 'saving' | 'done' | 'failed' | 'canceled';

export interface SavedFile {
  id: string;
  fileName: string;
  originalName: string;
  size: number;
  contentType: string;
  createdAt: string;
}

/** One file's upload, as the page shows it. Read-only outside the Uploader. */
export interface Upload {
  readonly id: number;
  readonly file: File;
  status: UploadStatus;
  /** Bytes sent so far (reaches file.size before saving). */
  loaded: number;
  /** The server's key, once issued. */
  fileName?: string;
  /** In parts (large files): resumable, also after a reload. */
  multipart: boolean;
  error?: FilegraphError;
  saved?: SavedFile;
}

export interface UploaderOptions {
  api: Api;
  /** Files uploading at once. */
  concurrency?: number;
  /** Tries of each PUT or call that failed for a passing cause (network, 5xx, UNAVAILABLE). */
  retries?: number;
  /** Delay before try n+1 after n failed, in ms. */
  retryDelay?: (attempt: number) => number;
  /** Files larger than this go in parts (the server picks the part size). */
  multipartThreshold?: number;
  /** Parts of one file in flight at once. */
  partConcurrency?: number;
  /**
   * Sign each PUT (a whole file or a part) for its SHA-256, so that the
   * storage refuses bytes other than the ones sent (default true). A PUT cut
   * off mid-body must never leave an object or part that passes for whole;
   * some S3-compatible stores keep one (a part even at its full size). Costs
   * one read of the file to hash it.
   */
  checksums?: boolean;
}

/** An upload in parts issued earlier (by this page or before a reload), not yet saved. */
export interface PendingMultipart {
  fileName: string;
  originalName: string;
  size: number;
  createdAt: string;
  expiresAt: string;
  partSize: number;
  partCount: number;
}

/** The largest object one PUT may carry on S3. */
const MAX_SINGLE_PUT = 5 * 1024 ** 3;

/** What an upload holds while it runs: its URL and the attempt's abort. */
interface Job {
  upload: Upload;
  target?: PutRequest & { expiresAt: string; fileName: string };
  /** A PUT to target was started before: a 412 then means it arrived. */
  putStarted: boolean;
  abort?: AbortController;
  /** Base64 SHA-256 of the whole file, for a single PUT with checksums. */
  checksum?: string;
  /** In parts: the layout the server chose, once issued. */
  parts?: { partSize: number; partCount: number };
}

/**
 * Events (each a CustomEvent whose detail is the Upload): `change` when an
 * upload's status changes, `progress` as its bytes go out.
 */
export class Uploader extends EventTarget {
  readonly uploads: Upload[] = [];
  private readonly jobs = new Map<number, Job>();
  private readonly api: Api;
  private readonly concurrency: number;
  private readonly retries: number;
  private readonly retryDelay: (attempt: number) => number;
  private readonly multipartThreshold: number;
  private readonly partConcurrency: number;
  private readonly checksums: boolean;
  private nextId = 1;
  private running = 0;

  constructor(options: UploaderOptions) {
    super();
    this.api = options.api;
    this.concurrency = options.concurrency ?? 3;
    this.retries = options.retries ?? 5;
    this.retryDelay = options.retryDelay ?? ((n) => backoff(n));
    this.multipartThreshold = Math.min(options.multipartThreshold ?? 64 * 1024 ** 2, MAX_SINGLE_PUT);
    this.partConcurrency = options.partConcurrency ?? 4;
    this.checksums = options.checksums ?? true;
  }

  /**
   * The caller's uploads in parts that were issued and not saved: after a
   * reload, offer to resume them; `add` resumes one when given the same
   * file (same name and size) again.
   */
  async pending(): Promise<PendingMultipart[]> {
    const out: PendingMultipart[] = [];
    let after: string | null = null;
    for (;;) {
      const { uploads }: PendingUploadsQuery = await this.api.query(PendingUploads, { first: 100, after });
      for (const e of uploads.edges ?? []) {
        const n = e?.node;
        if (n && n.partSize != null && n.partCount != null) out.push({ ...n, partSize: n.partSize, partCount: n.partCount });
      }
      if (!uploads.pageInfo.hasNextPage) return out;
      after = uploads.pageInfo.endCursor;
    }
  }

  /** Queues files; they start as soon as a slot is free. */
  add(files: Iterable<File>, resume: PendingMultipart[] = []): Upload[] {
    const added: Upload[] = [];
    for (const file of files) {
      const earlier = resume.find((p) => p.originalName === file.name && p.size === file.size && !this.uploads.some((u) => u.fileName === p.fileName));
      const multipart = !!earlier || file.size > this.multipartThreshold;
      const upload: Upload = { id: this.nextId++, file, status: 'queued', loaded: 0, multipart, fileName: earlier?.fileName };
      this.uploads.push(upload);
      this.jobs.set(upload.id, { upload, putStarted: false, parts: earlier && { partSize: earlier.partSize, partCount: earlier.partCount } });
      added.push(upload);
      this.emit('change', upload);
    }
    this.pump();
    return added;
  }

  /** Stops an upload where it is; resume continues it. */
  pause(upload: Upload): void {
    const job = this.jobs.get(upload.id);
    if (!job || !['queued', 'uploading'].includes(upload.status)) return;
    this.setStatus(upload, 'paused');
    job.abort?.abort();
  }

  /** Continues a paused or failed upload. */
  resume(upload: Upload): void {
    if (upload.status !== 'paused' && upload.status !== 'failed') return;
    upload.error = undefined;
    this.setStatus(upload, 'queued');
    this.pump();
  }

  /** Gives an upload up. A saved file stays saved: delete it instead. */
  cancel(upload: Upload): void {
    const job = this.jobs.get(upload.id);
    if (!job || upload.status === 'done' || upload.status === 'canceled' || upload.status === 'saving') return;
    this.setStatus(upload, 'canceled');
    job.abort?.abort();
    // Parts already stored are removed now rather than by the sweeper.
    if (upload.multipart && upload.fileName) void this.api.mutate(AbortUpload, { fileName: upload.fileName }).catch(() => {});
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.running === 0 && !this.uploads.some((u) => u.status === 'queued')) {
          this.removeEventListener('change', check);
          resolve();
        }
      };
      this.addEventListener('change', check);
      check();
    });
  }

  private emit(type: 'change' | 'progress', upload: Upload) {
    this.dispatchEvent(new CustomEvent(type, { detail: upload }));
  }

  private setStatus(upload: Upload, status: UploadStatus) {
    upload.status = status;
    this.emit('change', upload);
  }

  /** Starts queued uploads while slots are free; one call issues their URLs. */
  private pump() {
    const starting: Job[] = [];
    for (const upload of this.uploads) {
      if (this.running + starting.length >= this.concurrency) break;
      if (upload.status !== 'queued') continue;
      const job = this.jobs.get(upload.id)!;
      job.abort = new AbortController();
      this.setStatus(upload, 'uploading');
      starting.push(job);
    }
    if (starting.length === 0) return;
    this.running += starting.length;
    void this.issue(starting.filter((j) => !j.target && !j.upload.multipart)).then(() =>
      starting.forEach((job) => {
        void this.run(job).finally(() => {
          this.running--;
          this.pump();
          this.emit('change', job.upload);
        });
      }),
    );
  }

  /**
   * Asks for upload URLs for jobs that have none, in one call. The call is
   * all or nothing: if it is refused, each file asks alone so that each
   * gets its own error.
   */
  private async issue(jobs: Job[]) {
    if (jobs.length === 0) return;
    try {
      const files = await Promise.all(jobs.map((job) => this.uploadRequest(job)));
      const { createUploadUrls } = await this.call(jobs[0]!, () => this.api.mutate(CreateUploadUrls, { files }));
      createUploadUrls.forEach((target, i) => this.setTarget(jobs[i]!, target));
    } catch {
      if (jobs.length > 1) {
        for (const job of jobs) await this.issue([job]);
      }
      // A lone job's error is found again, and reported, by run.
    }
  }

  private setTarget(job: Job, target: PutRequest & { expiresAt: string; fileName: string }) {
    job.target = target;
    job.putStarted = false;
    job.upload.fileName = target.fileName;
  }

  private async run(job: Job) {
    const { upload } = job;
    const signal = job.abort!.signal;
    try {
      if (upload.multipart) {
        await this.putParts(job, signal);
        this.setStatus(upload, 'saving');
        upload.saved = await this.save(job);
        this.setStatus(upload, 'done');
        return;
      }
      if (!job.target) await this.reissue(job);
      let assumed = await this.putWhole(job, signal);
      this.setStatus(upload, 'saving');
      let saved;
      try {
        saved = await this.save(job);
      } catch (e) {
        // A 412 was taken for "already there", but what is there is not the
        // file (a store that kept the cut-off body of an aborted try): start
        // over under a new key, once.
        if (!assumed || !(e instanceof FilegraphError) || e.code !== 'BAD_USER_INPUT') throw e;
        await this.reissue(job);
        this.setStatus(upload, 'uploading');
        assumed = await this.putWhole(job, signal);
        this.setStatus(upload, 'saving');
        saved = await this.save(job);
      }
      upload.saved = saved;
      upload.loaded = upload.file.size;
      this.setStatus(upload, 'done');
    } catch (e) {
      if (signal.aborted) return; // paused or canceled: the status says which
      upload.error = e instanceof FilegraphError ? e : new FilegraphError('INTERNAL_SERVER_ERROR', String(e));
      this.setStatus(upload, 'failed');
    }
  }

  /** What createUploadUrls is told of the job's file; its hash is made once. */
  private async uploadRequest(job: Job) {
    const { file } = job.upload;
    if (this.checksums) job.checksum ??= await sha256Base64(file);
    return { originalName: file.name, size: file.size, contentType: file.type || null, checksumSHA256: job.checksum ?? null };
  }

  /** A new upload URL (and key) for the job's file. */
  private async reissue(job: Job) {
    const request = await this.uploadRequest(job);
    const { createUploadUrls } = await this.call(job, () => this.api.mutate(CreateUploadUrls, { files: [request] }));
    this.setTarget(job, createUploadUrls[0]!);
  }

  private async save(job: Job): Promise<SavedFile> {
    const { saveFiles } = await this.call(job, () =>
      this.api.mutate(SaveFiles, { files: [{ fileName: job.upload.fileName!, originalName: job.upload.file.name }] }),
    );
    return saveFiles[0]!;
  }

  /**
   * Uploads the parts the storage does not hold yet, partConcurrency at a
   * time, each retried on its own; URLs are asked for up to 100 at a time.
   * Which parts are stored is read from the server on every (re)start, so a
   * resume after a pause or a reload sends only what is missing.
   */
  private async putParts(job: Job, signal: AbortSignal) {
    const { upload } = job;
    const file = upload.file;
    if (!job.parts) {
      const { createMultipartUploads } = await this.call(job, () =>
        this.api.mutate(CreateMultipartUploads, {
          files: [{ originalName: file.name, size: file.size, contentType: file.type || null, partChecksums: this.checksums }],
        }),
      );
      const created = createMultipartUploads[0]!;
      upload.fileName = created.fileName;
      job.parts = { partSize: created.partSize, partCount: created.partCount };
      this.emit('change', upload);
    }
    const { partSize, partCount } = job.parts;
    const stored = new Map<number, number>();
    const { upload: pending } = await this.call(job, () => this.api.query(PendingUploadParts, { fileName: upload.fileName! }));
    if (!pending) throw new FilegraphError('NOT_FOUND', 'this upload is no longer pending: it was saved, aborted, or expired');
    for (const p of pending.uploadedParts) stored.set(p.partNumber, p.size);
    const sizeOf = (n: number) => (n < partCount ? partSize : file.size - partSize * (partCount - 1));
    const todo: number[] = [];
    for (let n = 1; n <= partCount; n++) if (stored.get(n) !== sizeOf(n)) todo.push(n);

    const sending = new Map<number, number>();
    const report = () => {
      let loaded = 0;
      for (const [n, size] of stored) if (size === sizeOf(n)) loaded += size;
      for (const l of sending.values()) loaded += l;
      upload.loaded = Math.min(loaded, file.size);
      this.emit('progress', upload);
    };
    report();

    const urls = new Map<number, PutRequest & { expiresAt: string }>();
    let asking: Promise<void> | undefined;
    const urlFor = async (n: number, body: Blob) => {
      if (this.checksums) {
        // Each URL is signed for its part's hash: one part a call.
        const checksumSHA256 = await sha256Base64(body);
        const { uploadPartUrls } = await this.call(job, () =>
          this.api.mutate(UploadPartUrls, { fileName: upload.fileName!, parts: [{ partNumber: n, checksumSHA256 }] }),
        );
        return uploadPartUrls[0]!;
      }
      for (;;) {
        const u = urls.get(n);
        if (u && Date.parse(u.expiresAt) > Date.now() + 30_000) return u;
        urls.delete(n);
        // One request at a time, for this part and the next ones still to go.
        asking ??= (async () => {
          const want = [n, ...todo.filter((m) => m !== n && !urls.has(m))].slice(0, 100);
          const { uploadPartUrls } = await this.call(job, () =>
            this.api.mutate(UploadPartUrls, { fileName: upload.fileName!, parts: want.map((partNumber) => ({ partNumber })) }),
          );
          for (const p of uploadPartUrls) urls.set(p.partNumber, p);
        })().finally(() => (asking = undefined));
        await asking;
      }
    };

    const worker = async (signal: AbortSignal) => {
      for (let n = todo.shift(); n !== undefined; n = todo.shift()) {
        const start = partSize * (n - 1);
        const body = file.slice(start, start + sizeOf(n));
        for (let attempt = 1; ; attempt++) {
          const target = await urlFor(n, body);
          let status: number;
          try {
            status = await put(target, body, signal, (l) => {
              sending.set(n!, l);
              report();
            });
          } catch (e) {
            sending.delete(n);
            if (signal.aborted || attempt > this.retries) throw e;
            await sleep(this.retryDelay(attempt), signal);
            continue;
          }
          sending.delete(n);
          if (status >= 200 && status < 300) break;
          if (status === 403) urls.delete(n); // expired: ask again
          const err = new FilegraphError('STORAGE_REJECTED', `the storage answered ${status} for part ${n}`, { status });
          if ((!err.retryable && status !== 403) || attempt > this.retries) throw err;
          await sleep(this.retryDelay(attempt), signal);
        }
        stored.set(n, sizeOf(n));
        report();
      }
    };
    // One part failing for good stops its siblings too.
    const all = new AbortController();
    const stop = () => all.abort();
    signal.addEventListener('abort', stop, { once: true });
    try {
      await Promise.all(
        Array.from({ length: Math.min(this.partConcurrency, todo.length) }, () =>
          worker(all.signal).catch((e) => {
            all.abort();
            throw e;
          }),
        ),
      );
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  /**
   * PUTs the whole file, retrying what may pass. A 412 after an earlier try
   * means that try arrived (upload URLs write once): resolves true then, as
   * the object is taken on trust until saveFiles checks it.
   */
  private async putWhole(job: Job, signal: AbortSignal): Promise<boolean> {
    const { upload } = job;
    let assumed = false;
    for (let attempt = 1; ; attempt++) {
      const target = job.target!;
      const earlier = job.putStarted;
      job.putStarted = true;
      let status: number;
      try {
        status = await put(target, upload.file, signal, (loaded) => {
          upload.loaded = loaded;
          this.emit('progress', upload);
        });
      } catch (e) {
        if (signal.aborted || attempt > this.retries) throw e;
        await sleep(this.retryDelay(attempt), signal);
        continue;
      }
      if (status >= 200 && status < 300) break;
      // Upload URLs write once: an earlier try got through and its answer
      // was lost. saveFiles verifies the object all the same.
      if (status === 412 && earlier) {
        assumed = true;
        break;
      }
      const err = new FilegraphError('STORAGE_REJECTED', `the storage answered ${status}`, { status });
      if (status === 403 && Date.parse(target.expiresAt) <= Date.now() + 5_000) {
        // The URL expired (a long pause): ask for a new one and start over.
        await this.reissue(job);
        continue;
      }
      if (!err.retryable || attempt > this.retries) throw err;
      await sleep(this.retryDelay(attempt), signal);
    }
    upload.loaded = upload.file.size;
    this.emit('progress', upload);
    return assumed;
  }

  /** Runs a GraphQL call, retrying UNAVAILABLE and network errors with backoff. */
  private async call<R>(job: Job, fn: () => Promise<R>): Promise<R> {
    const signal = job.abort!.signal;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (signal.aborted) throw new FilegraphError('ABORTED', 'aborted');
        if (!(e instanceof FilegraphError) || !e.retryable || attempt > this.retries) throw e;
        await sleep(this.retryDelay(attempt), signal);
      }
    }
  }
}

/** Base64 SHA-256 of a Blob, as uploadPartUrls takes it. */
export async function sha256Base64(blob: Blob): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  let bin = '';
  for (const b of digest) bin += String.fromCharCode(b);
  return btoa(bin);
}
