// The upload client's scheduler: many files at once, each issued, sent by
// its transfer (single.ts: one PUT; parts.ts: in parts) and saved, with
// progress, pause, resume and cancel. Retries are retry.ts's one policy.
// It knows no UI: a page listens to its events and renders `uploads`.
import type { Api } from './api';
import { sha256Base64 } from './checksum';
import { checkFile, refusal, type Collection } from './collections';
import { AbortUpload, CreateMultipartUploads, CreateUploadUrls, PendingUploads, SaveFiles } from './documents';
import { FilegraphError } from './errors';
import { defaultHttpStack, type HttpStack } from './http';
import { PartsTransfer, type PartsLayout } from './parts';
import { backoff, retrying, type RetryPolicy } from './retry';
import { SingleTransfer, type SingleTarget } from './single';
import type { PendingUploadsQuery } from '../gql/graphql';

export type UploadStatus = 'queued' | 'uploading' | 'paused' | 'saving' | 'done' | 'failed' | 'canceled';

export interface SavedFile {
  id: string;
  fileName: string;
  originalName: string;
  size: number;
  contentType: string;
  createdAt: string;
  collection: string;
  /** "" is the root. */
  folder: string;
  metadata: Record<string, string>;
  /** A public collection's file: its stable, unsigned URL. */
  url?: string | null;
}

/** Where an upload goes and what it carries, beside its bytes. */
export interface UploadAttributes {
  /** The collection whose rules it is uploaded under (default when none). */
  collection?: string;
  /** A path such as a/b ("" or none: the root). */
  folder?: string;
  /** String pairs stored with the file, to filter on. */
  metadata?: Record<string, string>;
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
  readonly attributes: UploadAttributes;
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
  /** How PUTs are sent: XHR where there is one (upload progress), else fetch. */
  httpStack?: HttpStack;
  /**
   * The server's collections (loadCollections): files are checked against
   * their collection's rules before anything is asked, and a refused file
   * fails at once with the server's words; batches keep to each
   * collection's maxFilesPerRequest. Settable later (`uploader.collections`).
   */
  collections?: Collection[];
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

/** What the scheduler holds for an upload: its transfer and the current run's abort. */
interface Job {
  upload: Upload;
  abort?: AbortController;
  /** One PUT: created with the job, issued in a batch or on its own. */
  single?: SingleTransfer;
  /** In parts: the layout, once created (or given for a resume). */
  layout?: PartsLayout;
  /** Base64 SHA-256 of the whole file, for a single PUT with checksums. */
  checksum?: string;
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
  private readonly policy: RetryPolicy;
  private readonly multipartThreshold: number;
  private readonly partConcurrency: number;
  private readonly checksums: boolean;
  private readonly stack: HttpStack;
  private nextId = 1;
  private running = 0;
  collections?: Collection[];

  constructor(options: UploaderOptions) {
    super();
    this.api = options.api;
    this.concurrency = options.concurrency ?? 3;
    this.policy = { retries: options.retries ?? 5, delay: options.retryDelay ?? ((n) => backoff(n)) };
    this.multipartThreshold = Math.min(options.multipartThreshold ?? 64 * 1024 ** 2, MAX_SINGLE_PUT);
    this.partConcurrency = options.partConcurrency ?? 4;
    this.checksums = options.checksums ?? true;
    this.stack = options.httpStack ?? defaultHttpStack();
    this.collections = options.collections;
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

  /**
   * Queues files, with what they carry (collection, folder, metadata); they
   * start as soon as a slot is free. With `collections` known, a file its
   * collection refuses fails here, and no request is sent for it.
   */
  add(files: Iterable<File>, resume: PendingMultipart[] = [], attributes: UploadAttributes = {}): Upload[] {
    const added: Upload[] = [];
    for (const file of files) {
      const earlier = resume.find((p) => p.originalName === file.name && p.size === file.size && !this.uploads.some((u) => u.fileName === p.fileName));
      const multipart = !!earlier || file.size > this.multipartThreshold;
      const upload: Upload = { id: this.nextId++, file, status: 'queued', loaded: 0, multipart, fileName: earlier?.fileName, attributes: { ...attributes } };
      const problems = this.collections && !earlier ? checkFile(this.collections, attributes.collection, file) : [];
      if (problems.length) {
        upload.status = 'failed';
        upload.error = refusal(problems);
      }
      this.uploads.push(upload);
      const job: Job = { upload, layout: earlier && { fileName: earlier.fileName, partSize: earlier.partSize, partCount: earlier.partCount } };
      if (!multipart) job.single = new SingleTransfer(file, { stack: this.stack, policy: this.policy, issue: () => this.issueOne(job) });
      this.jobs.set(upload.id, job);
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

  /**
   * Lets go of an upload that has ended unsaved (failed or canceled), so a
   * page can drop its row; one still running or saved is kept.
   */
  forget(upload: Upload): void {
    if (upload.status !== 'failed' && upload.status !== 'canceled') return;
    this.jobs.delete(upload.id);
    const i = this.uploads.indexOf(upload);
    if (i >= 0) this.uploads.splice(i, 1);
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

  private progress(upload: Upload) {
    return (loaded: number) => {
      upload.loaded = loaded;
      this.emit('progress', upload);
    };
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
    void this.issue(starting.filter((j) => j.single && !j.single.issued)).then(() =>
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
   * Asks for upload URLs for single-PUT jobs that have none, in one call.
   * The call is all or nothing: if it is refused, each file asks alone, in
   * its own transfer, so that each gets its own error.
   */
  private async issue(jobs: Job[]) {
    // No more of a collection in one call than it takes: the rest ask alone.
    const taken = new Map<string, number>();
    jobs = jobs.filter((job) => {
      const name = job.upload.attributes.collection || 'default';
      const max = this.collections?.find((c) => c.name === name)?.maxFilesPerRequest ?? Infinity;
      const n = taken.get(name) ?? 0;
      taken.set(name, n + 1);
      return n < max;
    });
    if (jobs.length < 2) return;
    try {
      const files = await Promise.all(jobs.map((job) => this.uploadRequest(job)));
      const { createUploadUrls } = await retrying(this.policy, jobs[0]!.abort!.signal, () => this.api.mutate(CreateUploadUrls, { files }));
      createUploadUrls.forEach((target, i) => {
        jobs[i]!.single!.use(target);
        jobs[i]!.upload.fileName = target.fileName;
      });
    } catch {
      // Each transfer asks for its own URL.
    }
  }

  /** One file's URL, for its transfer (whose retry policy covers the call). */
  private async issueOne(job: Job): Promise<SingleTarget> {
    const request = await this.uploadRequest(job);
    const { createUploadUrls } = await this.api.mutate(CreateUploadUrls, { files: [request] });
    const target = createUploadUrls[0]!;
    job.upload.fileName = target.fileName;
    return target;
  }

  /** What createUploadUrls is told of the job's file; its hash is made once. */
  private async uploadRequest(job: Job) {
    const { file } = job.upload;
    if (this.checksums) job.checksum ??= await sha256Base64(file);
    return { originalName: file.name, size: file.size, contentType: file.type || null, checksumSHA256: job.checksum ?? null, ...this.attributes(job.upload) };
  }

  /** The request fields an upload's attributes set (none that it leaves out). */
  private attributes(upload: Upload) {
    const { collection, folder, metadata } = upload.attributes;
    return { collection: collection ?? null, folder: folder ?? null, metadata: metadata ?? null };
  }

  private async run(job: Job) {
    const { upload } = job;
    const signal = job.abort!.signal;
    try {
      upload.saved = upload.multipart ? await this.runParts(job, signal) : await this.runSingle(job, job.single!, signal);
      upload.loaded = upload.file.size;
      this.setStatus(upload, 'done');
    } catch (e) {
      if (signal.aborted) return; // paused or canceled: the status says which
      upload.error = e instanceof FilegraphError ? e : new FilegraphError('INTERNAL_SERVER_ERROR', String(e));
      this.setStatus(upload, 'failed');
    }
  }

  private async runSingle(job: Job, single: SingleTransfer, signal: AbortSignal): Promise<SavedFile> {
    const { upload } = job;
    const sent = await single.send(signal, this.progress(upload));
    this.progress(upload)(upload.file.size);
    this.setStatus(upload, 'saving');
    try {
      return await this.save(upload, signal);
    } catch (e) {
      // A 412 was taken for "already there", but what is there is not the
      // file (a store that kept the cut-off body of an aborted try): start
      // over under a new key, once.
      if (sent !== 'assumed' || !(e instanceof FilegraphError) || e.code !== 'BAD_USER_INPUT') throw e;
      single.renew();
      this.setStatus(upload, 'uploading');
      await single.send(signal, this.progress(upload));
      this.setStatus(upload, 'saving');
      return await this.save(upload, signal);
    }
  }

  private async runParts(job: Job, signal: AbortSignal): Promise<SavedFile> {
    const { upload } = job;
    const { file } = upload;
    if (!job.layout) {
      const { createMultipartUploads } = await retrying(this.policy, signal, () =>
        this.api.mutate(CreateMultipartUploads, {
          files: [{ originalName: file.name, size: file.size, contentType: file.type || null, partChecksums: this.checksums, ...this.attributes(upload) }],
        }),
      );
      const created = createMultipartUploads[0]!;
      job.layout = { fileName: created.fileName, partSize: created.partSize, partCount: created.partCount };
      upload.fileName = created.fileName;
      this.emit('change', upload);
    }
    const parts = new PartsTransfer(file, job.layout, {
      api: this.api,
      stack: this.stack,
      policy: this.policy,
      checksums: this.checksums,
      concurrency: this.partConcurrency,
    });
    await parts.send(signal, this.progress(upload));
    this.setStatus(upload, 'saving');
    return this.save(upload, signal);
  }

  private async save(upload: Upload, signal: AbortSignal): Promise<SavedFile> {
    const { saveFiles } = await retrying(this.policy, signal, () =>
      this.api.mutate(SaveFiles, { files: [{ fileName: upload.fileName!, originalName: upload.file.name }] }),
    );
    return saveFiles[0]!;
  }
}
