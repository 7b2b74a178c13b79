// How the client sends a PUT to a presigned URL, behind a small interface
// as tus-js-client's HttpStack: XHR in browsers (fetch reports no upload
// progress), fetch where there is no XHR (Node, workers) or for a caller
// who wants it. A stack only sends and reports; what a status means, and
// whether to try again, is decided by the transfers and the retry policy.
import { FilegraphError } from './errors';

/** A presigned request: the URL and exactly the headers it was signed with. */
export interface PutRequest {
  url: string;
  method: string;
  headers: ReadonlyArray<{ name: string; value: string }>;
}

export interface PutOptions {
  signal: AbortSignal;
  /** Bytes of the body sent so far. */
  onProgress?: (loaded: number) => void;
}

export interface HttpStack {
  /**
   * Sends body with the request's headers (less Content-Length and Host,
   * which the platform sets). Resolves with the HTTP status, whatever it
   * is; rejects with NETWORK_ERROR when no answer came, ABORTED when the
   * signal fired.
   */
  put(request: PutRequest, body: Blob, options: PutOptions): Promise<number>;
}

/** Headers a script may set: browsers forbid Content-Length and Host. */
function settable(headers: PutRequest['headers']) {
  return headers.filter((h) => h.name.toLowerCase() !== 'content-length' && h.name.toLowerCase() !== 'host');
}

export const aborted = () => new FilegraphError('ABORTED', 'aborted');

const noAnswer = (req: PutRequest, cause?: unknown) => {
  const e = new FilegraphError('NETWORK_ERROR', `no answer from the storage for ${req.method} ${new URL(req.url).host}`);
  if (cause !== undefined) (e as Error).cause = cause;
  return e;
};

/** XMLHttpRequest, for its upload progress events. */
export class XHRHttpStack implements HttpStack {
  put(req: PutRequest, body: Blob, { signal, onProgress }: PutOptions): Promise<number> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(aborted());
      const xhr = new XMLHttpRequest();
      xhr.open(req.method, req.url);
      for (const h of settable(req.headers)) xhr.setRequestHeader(h.name, h.value);
      const abort = () => xhr.abort();
      signal.addEventListener('abort', abort, { once: true });
      const done = () => signal.removeEventListener('abort', abort);
      if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = () => {
        done();
        resolve(xhr.status);
      };
      xhr.onerror = () => {
        done();
        reject(noAnswer(req));
      };
      xhr.onabort = () => reject(aborted());
      xhr.send(body);
    });
  }
}

/** fetch: no progress while sending; the whole body counts as sent once answered. */
export class FetchHttpStack implements HttpStack {
  async put(req: PutRequest, body: Blob, { signal, onProgress }: PutOptions): Promise<number> {
    if (signal.aborted) throw aborted();
    let res: Response;
    try {
      const headers = settable(req.headers).map((h): [string, string] => [h.name, h.value]);
      res = await fetch(req.url, { method: req.method, headers, body, signal });
    } catch (e) {
      throw signal.aborted ? aborted() : noAnswer(req, e);
    }
    // The answer's body is not needed, but read so the connection is reused.
    await res.arrayBuffer().catch(() => {});
    onProgress?.(body.size);
    return res.status;
  }
}

/** XHR where there is one, else fetch. */
export function defaultHttpStack(): HttpStack {
  return typeof XMLHttpRequest === 'undefined' ? new FetchHttpStack() : new XHRHttpStack();
}
