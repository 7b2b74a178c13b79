// One HTTP PUT of a Blob to a presigned URL, with upload progress. XHR, not
// fetch: fetch reports no upload progress.
import { FilegraphError } from './errors';

export interface PutRequest {
  url: string;
  method: string;
  headers: ReadonlyArray<{ name: string; value: string }>;
}

/**
 * PUTs body with exactly the signed headers (less Content-Length, which the
 * browser sets from the body and forbids scripts to set). Resolves with the
 * HTTP status; rejects with NETWORK_ERROR when no answer came, ABORTED when
 * signal fired.
 */
export function put(req: PutRequest, body: Blob, signal: AbortSignal, onProgress: (loaded: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new FilegraphError('ABORTED', 'aborted'));
    const xhr = new XMLHttpRequest();
    xhr.open(req.method, req.url);
    for (const h of req.headers) {
      if (h.name.toLowerCase() !== 'content-length' && h.name.toLowerCase() !== 'host') xhr.setRequestHeader(h.name, h.value);
    }
    const abort = () => xhr.abort();
    signal.addEventListener('abort', abort, { once: true });
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      signal.removeEventListener('abort', abort);
      resolve(xhr.status);
    };
    xhr.onerror = () => {
      signal.removeEventListener('abort', abort);
      reject(new FilegraphError('NETWORK_ERROR', `no answer from the storage for ${req.method} ${new URL(req.url).host}`));
    };
    xhr.onabort = () => reject(new FilegraphError('ABORTED', 'aborted'));
    xhr.send(body);
  });
}

/** Waits ms, or rejects with ABORTED as soon as signal fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new FilegraphError('ABORTED', 'aborted'));
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new FilegraphError('ABORTED', 'aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Exponential backoff with full jitter: attempt 1 waits up to base, then 2×, 4×… capped. */
export function backoff(attempt: number, base = 500, cap = 15_000): number {
  return Math.random() * Math.min(cap, base * 2 ** (attempt - 1));
}
