// How the client sends a PUT to a presigned URL, behind a small interface
// as tus-js-client's HttpStack: XHR in browsers (fetch reports no upload
// progress), fetch where there is no XHR (Node, workers) or for a caller
// who wants it (in Node with progress as the body is sent). A stack only
// sends and reports; what a status means, and whether to try again, is
// decided by the transfers and the retry policy.
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

/**
 * Whether fetch here sends a stream body with the Content-Length given
 * (Node's fetch does; browsers forbid the header and would send a stream
 * chunked, which a presigned PUT signed for its length refuses).
 */
const streamsWithLength = () => !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;

/** The slice of a body read at a time when progress is counted. */
const CHUNK = 1 << 20;

/**
 * body as a stream that reports, as each slice is taken, the bytes taken
 * before it: the transport pulls a slice when it has room for one, so the
 * count follows the sending (the last slice counts once answered).
 */
function counted(body: Blob, onProgress: (loaded: number) => void): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    async pull(controller) {
      if (offset >= body.size) return controller.close();
      if (offset > 0) onProgress(offset);
      const slice = new Uint8Array(await body.slice(offset, offset + CHUNK).arrayBuffer());
      offset += slice.byteLength;
      controller.enqueue(slice);
    },
  });
}

/**
 * fetch. Where it can send a stream of known length (Node), progress is
 * reported as the body is sent; elsewhere the whole body counts as sent
 * once answered (fetch has no upload progress: browsers use XHR).
 */
export class FetchHttpStack implements HttpStack {
  private readonly streamBody: boolean;

  /** streamBody: send the body as a counted stream (default: in Node). */
  constructor(options: { streamBody?: boolean } = {}) {
    this.streamBody = options.streamBody ?? streamsWithLength();
  }

  async put(req: PutRequest, body: Blob, { signal, onProgress }: PutOptions): Promise<number> {
    if (signal.aborted) throw aborted();
    let res: Response;
    try {
      const headers = settable(req.headers).map((h): [string, string] => [h.name, h.value]);
      const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers, body, signal };
      if (onProgress && this.streamBody && body.size > 0) {
        // The length the URL was signed for, sent as such rather than chunked.
        headers.push(['Content-Length', String(body.size)]);
        init.body = counted(body, onProgress);
        init.duplex = 'half';
      }
      res = await fetch(req.url, init);
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
