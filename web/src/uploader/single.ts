// A file in one PUT: the transfer that Uppy's #nonMultipartUpload is.
import { FilegraphError } from './errors';
import type { HttpStack, PutRequest } from './http';
import { retrying, type RetryPolicy } from './retry';

/** An upload URL as createUploadUrls issues it. */
export interface SingleTarget extends PutRequest {
  fileName: string;
  expiresAt: string;
}

export interface SingleTransferOptions {
  stack: HttpStack;
  policy: RetryPolicy;
  /** A new URL (and key) for the file: one createUploadUrls call, whose failures the policy retries. */
  issue: () => Promise<SingleTarget>;
}

/** How a PUT ended: sent, or taken as arrived from a 412 after an earlier try. */
export type Sent = 'sent' | 'assumed';

export class SingleTransfer {
  private target?: SingleTarget;
  /** A PUT to target was started: a 412 then means one arrived. */
  private started = false;

  constructor(
    private readonly file: Blob,
    private readonly options: SingleTransferOptions,
  ) {}

  /** Takes a URL issued together with other files' (one call for a batch). */
  use(target: SingleTarget) {
    this.target = target;
    this.started = false;
  }

  get issued(): boolean {
    return this.target !== undefined;
  }

  /** Forgets the URL: the next send asks for a new one, under a new key. */
  renew() {
    this.target = undefined;
  }

  /**
   * PUTs the whole file, asking for a URL first if it has none, each try as
   * the retry policy says. A 412 to a retried PUT means an earlier try
   * arrived and its answer was lost (upload URLs write once): that resolves
   * 'assumed', as saveFiles verifies the object all the same.
   */
  send(signal: AbortSignal, onProgress: (loaded: number) => void): Promise<Sent> {
    const { stack, policy, issue } = this.options;
    return retrying(policy, signal, async () => {
      if (!this.target) this.use(await issue());
      const target = this.target!;
      const earlier = this.started;
      this.started = true;
      const status = await stack.put(target, this.file, { signal, onProgress });
      if (status >= 200 && status < 300) return 'sent';
      if (status === 412 && earlier) return 'assumed';
      // An expired URL (a long pause) is replaced, under a new key.
      const expired = status === 403 && Date.parse(target.expiresAt) <= Date.now() + 5_000;
      if (expired) this.renew();
      throw new FilegraphError('STORAGE_REJECTED', `the storage answered ${status}`, { status, expired });
    });
  }
}
