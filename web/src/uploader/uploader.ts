// The upload client: many files at once, each issued, PUT straight to the
// storage and saved, with progress, retries, pause, resume and cancel.
// It knows no UI: a page listens to its events and renders `uploads`.
import type { Api } from './api';
import { CreateUploadUrls, SaveFiles } from './documents';
import { FilegraphError } from './errors';
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
}

/** What an upload holds while it runs: its URL and the attempt's abort. */
interface Job {
  upload: Upload;
  target?: PutRequest & { expiresAt: string; fileName: string };
  /** A PUT to target was started before: a 412 then means it arrived. */
  putStarted: boolean;
  abort?: AbortController;
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
  private nextId = 1;
  private running = 0;

  constructor(options: UploaderOptions) {
    super();
    this.api = options.api;
    this.concurrency = options.concurrency ?? 3;
    this.retries = options.retries ?? 5;
    this.retryDelay = options.retryDelay ?? ((n) => backoff(n));
  }

  /** Queues files; they start as soon as a slot is free. */
  add(files: Iterable<File>): Upload[] {
    const added: Upload[] = [];
    for (const file of files) {
      const upload: Upload = { id: this.nextId++, file, status: 'queued', loaded: 0 };
      this.uploads.push(upload);
      this.jobs.set(upload.id, { upload, putStarted: false });
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
    void this.issue(starting.filter((j) => !j.target)).then(() =>
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
    const request = (job: Job) => ({
      originalName: job.upload.file.name,
      size: job.upload.file.size,
      contentType: job.upload.file.type || null,
    });
    try {
      const { createUploadUrls } = await this.call(jobs[0]!, () => this.api.mutate(CreateUploadUrls, { files: jobs.map(request) }));
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

  /** A new upload URL (and key) for the job's file. */
  private async reissue(job: Job) {
    const { file } = job.upload;
    const { createUploadUrls } = await this.call(job, () =>
      this.api.mutate(CreateUploadUrls, { files: [{ originalName: file.name, size: file.size, contentType: file.type || null }] }),
    );
    this.setTarget(job, createUploadUrls[0]!);
  }

  private async save(job: Job): Promise<SavedFile> {
    const { saveFiles } = await this.call(job, () =>
      this.api.mutate(SaveFiles, { files: [{ fileName: job.target!.fileName, originalName: job.upload.file.name }] }),
    );
    return saveFiles[0]!;
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
