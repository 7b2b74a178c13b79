// FetchHttpStack against a node HTTP server: the body goes with the length
// the URL was signed for, and its progress is reported while it is being
// sent, not only once answered.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { FetchHttpStack } from '../src/uploader';

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((close) => close()));

/** A server that reads half of each body, then waits for go() before reading the rest. */
async function holdingServer() {
  let go!: () => void;
  const held = new Promise<void>((resolve) => (go = resolve));
  const seen: { headers: IncomingMessage['headers']; received: number }[] = [];
  const server = createServer((req, res) => {
    const entry = { headers: req.headers, received: 0 };
    seen.push(entry);
    const half = Number(req.headers['content-length'] ?? 0) / 2;
    req.on('data', (d: Buffer) => {
      entry.received += d.length;
      if (entry.received >= half && !req.isPaused()) {
        req.pause();
        void held.then(() => req.resume());
      }
    });
    req.on('end', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    go();
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/obj`, go, seen };
}

test('fetch reports progress while the body is sent, with its length', async () => {
  const size = 16 << 20;
  const srv = await holdingServer();
  const reported: number[] = [];
  let midway!: () => void;
  const reachedMidway = new Promise<void>((resolve) => (midway = resolve));
  const put = new FetchHttpStack().put(
    { url: srv.url, method: 'PUT', headers: [{ name: 'Content-Length', value: String(size) }, { name: 'Content-Type', value: 'application/octet-stream' }] },
    new Blob([new Uint8Array(size)]),
    {
      signal: new AbortController().signal,
      onProgress: (n) => {
        reported.push(n);
        if (n > 0 && n < size) midway();
      },
    },
  );
  // While the server holds the rest of the body unread, the client must
  // already have said how much it sent; 10 s without it fails.
  const waited = await Promise.race([reachedMidway.then(() => 'reported'), new Promise((r) => setTimeout(() => r('nothing reported'), 10_000))]);
  srv.go();
  expect(await put).toBe(200);
  expect(waited).toBe('reported');
  expect(srv.seen).toHaveLength(1);
  expect(srv.seen[0]!.headers['content-length']).toBe(String(size));
  expect(srv.seen[0]!.headers['transfer-encoding']).toBeUndefined();
  expect(srv.seen[0]!.received).toBe(size);
  expect(reported.at(-1)).toBe(size);
  expect(reported).toEqual([...reported].sort((a, b) => a - b));
});

test('streamBody: false counts the body once answered', async () => {
  const srv = await holdingServer();
  srv.go();
  const reported: number[] = [];
  const status = await new FetchHttpStack({ streamBody: false }).put(
    { url: srv.url, method: 'PUT', headers: [] },
    new Blob([new Uint8Array(1000)]),
    { signal: new AbortController().signal, onProgress: (n) => reported.push(n) },
  );
  expect(status).toBe(200);
  expect(reported).toEqual([1000]);
});
