// A stand-in for Filegraph and its storage in one node HTTP server, for the
// upload client's unit tests: GraphQL over real HTTP (graphql-js executing
// the client's documents against the real schema.graphql, so a document
// or variable the server would refuse fails here too), and real PUTs of
// real bytes to "presigned" URLs that hold the store's rules: the signed
// size and SHA-256, write-once single PUTs (If-None-Match: * answers 412
// once an object is there), parts replaced when PUT again. saveFiles checks
// what is stored, as the server does. A test injects faults per PUT (no
// answer, a lost answer, a status, a PUT held open) and reads every PUT the
// store saw: the client is judged by the requests that actually arrived.
// Saved files are listed (files) with their download links (downloadUrl,
// fileDownloadUrl), signed for linkTTL and refused (403) by GET after it;
// a test sets a saved file's status to have the scan hold it, and gives it
// variants (addVariant: an object stored beside it, as the variants job
// does), listed in File.variants once READY and served by
// fileDownloadUrl(id, variant).
// The real server and stores are driven by the browser tests
// (internal/server, `make test-browser`).
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, graphql, GraphQLError } from 'graphql';

const schema = buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));

/** What the store does with one PUT instead of its normal handling. */
export type Fault =
  /** Close the connection before reading the body: no answer. */
  | 'drop'
  /** Store the body as usual, then close without answering: the answer is lost. */
  | 'lose-answer'
  /** Read the body, then keep the request open until the client gives up on it. */
  | 'hold'
  /** Answer this status, storing nothing. */
  | number;

/** A PUT the store saw, once it ended. */
export interface PutRecord {
  fileName: string;
  /** Part number, for a part PUT. */
  part?: number;
  /** The status answered, or how it ended without one. */
  outcome: number | 'dropped' | 'lost' | 'closed by the client';
}

interface Pending {
  fileName: string;
  originalName: string;
  size: number;
  contentType: string;
  checksum?: string;
  createdAt: string;
  expiresAt: string;
  parts?: { partSize: number; partCount: number; stored: Map<number, Buffer> };
}

/** A saved file, as files lists it. */
export interface SavedFile {
  id: string;
  fileName: string;
  originalName: string;
  size: number;
  contentType: string;
  createdAt: string;
  collection: string;
  folder: string;
  metadata: Record<string, string>;
  url: null;
  status: 'READY' | 'SCANNING' | 'UNSCANNED' | 'INFECTED';
  scanResult: string | null;
  /** Its variants, as the job stores them (the object's key in fileName). */
  variants: { name: string; width: number; height: number; contentType: string; size: number; fileName: string }[];
  /** VARIANT_NOT_READY's extensions.pending for a variant it lacks: false once it is known not to be an image. */
  variantsPending: boolean;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('base64');
const userError = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });

export class Filegraph extends EventEmitter {
  readonly puts: PutRecord[] = [];
  /** Operations run, by name, in order. */
  readonly operations: string[] = [];
  /** Objects in the store, by key. */
  readonly objects = new Map<string, Buffer>();
  readonly pending = new Map<string, Pending>();
  /** Decides each PUT's fault; n counts the PUTs to the same URL target, from 1. */
  fault: (put: { fileName: string; part?: number; n: number }) => Fault | undefined = () => undefined;
  /** The part size createMultipartUploads chooses. */
  partSize = 1024;
  /** Saved files, oldest first. */
  readonly saved: SavedFile[] = [];
  /** How long a download link lasts, in ms. */
  linkTTL = 15 * 60_000;
  /** Resolves File.scanResult: a test may have it throw, as a field the server nulls with an error. */
  scanResultOf = (f: SavedFile): string | null => f.scanResult;
  /** The variants the files' collection configures (fileDownloadUrl refuses other names). */
  variantNames = ['thumb', 'preview'];
  private seq = 0;
  private tries = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    super();
  }

  static async start(): Promise<Filegraph> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fg = new Filegraph(server, `http://127.0.0.1:${port}`);
    server.on('request', (req, res) => void fg.handle(req, res));
    return fg;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** PUTs that ended for one file (and part), oldest first. */
  outcomes(fileName: string, part?: number) {
    return this.puts.filter((p) => p.fileName === fileName && p.part === part).map((p) => p.outcome);
  }

  /** Resolves once a PUT record matches. */
  until(match: (p: PutRecord) => boolean): Promise<PutRecord> {
    const seen = this.puts.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const on = (p: PutRecord) => {
        if (!match(p)) return;
        this.off('put', on);
        resolve(p);
      };
      this.on('put', on);
    });
  }

  /** Resolves once a PUT is held open (a 'hold' fault). */
  held(): Promise<{ fileName: string; part?: number }> {
    return new Promise((resolve) => this.once('held', resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.url);
    if (req.method === 'POST' && url.pathname === '/query') return this.query(req, res);
    if (req.method === 'GET' && url.pathname.startsWith('/objects/')) return this.download(url, res);
    const m = /^\/(store|parts)\/([^/]+)$/.exec(url.pathname);
    if (req.method !== 'PUT' || !m) {
      res.writeHead(404).end();
      return;
    }
    const fileName = decodeURIComponent(m[2]!);
    const part = m[1] === 'parts' ? Number(url.searchParams.get('partNumber')) : undefined;
    const target = `${fileName}#${part ?? ''}`;
    const n = (this.tries.get(target) ?? 0) + 1;
    this.tries.set(target, n);
    const record = (outcome: PutRecord['outcome']) => {
      const p = { fileName, part, outcome };
      this.puts.push(p);
      this.emit('put', p);
    };
    const fault = this.fault({ fileName, part, n });
    if (fault === 'drop') {
      req.socket.destroy();
      return record('dropped');
    }
    const body = await readBody(req);
    if (body === undefined) return record('closed by the client');
    if (typeof fault === 'number') {
      res.writeHead(fault).end();
      return record(fault);
    }
    if (fault === 'hold') {
      res.on('close', () => record('closed by the client'));
      this.emit('held', { fileName, part });
      return;
    }
    const status = this.store(req, fileName, part, body);
    if (fault === 'lose-answer') {
      req.socket.destroy();
      return record('lost');
    }
    res.writeHead(status).end();
    record(status);
  }

  /** A download link's GET: the object's bytes until the link expires, then 403. */
  private download(url: URL, res: ServerResponse) {
    const object = this.objects.get(decodeURIComponent(url.pathname.slice('/objects/'.length)));
    if (Number(url.searchParams.get('expires')) <= Date.now()) return void res.writeHead(403).end('expired');
    if (!object) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': object.length }).end(object);
  }

  /** A file's download link, or why it has none (the server's codes). */
  private link(f: SavedFile) {
    return this.signed(f, f.fileName);
  }

  /** Stores a variant of a saved file as the variants job would: its object beside the file's. */
  addVariant(f: SavedFile, name: string, width: number, height: number, bytes: Buffer) {
    const fileName = `variants/${f.fileName}/${name}.jpg`;
    this.objects.set(fileName, bytes);
    f.variants.push({ name, width, height, contentType: 'image/jpeg', size: bytes.length, fileName });
  }

  /** A signed link to an object of f (its own or a variant's), or why it has none (the server's codes). */
  private signed(f: SavedFile, key: string) {
    if (f.status === 'INFECTED') throw new GraphQLError(`file ${f.id} is infected`, { extensions: { code: 'FILE_INFECTED', status: f.status } });
    if (f.status !== 'READY') throw new GraphQLError(`file ${f.id} is not ready: ${f.status}`, { extensions: { code: 'FILE_NOT_READY', status: f.status } });
    const expires = Date.now() + this.linkTTL;
    return { url: `${this.url}/objects/${encodeURIComponent(key)}?expires=${expires}`, expiresAt: new Date(expires).toISOString() };
  }

  /** fileDownloadUrl(id, variant): as the server answers. */
  private variantLink(f: SavedFile, name: string) {
    if (!this.variantNames.includes(name)) {
      const message = `variant "${name}" is not one of collection "${f.collection}"'s: ${this.variantNames.join(', ')}`;
      throw new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', problems: [{ field: 'variant', message }] } });
    }
    this.signed(f, f.fileName); // the file's status first, as the server checks it
    const v = f.variants.find((x) => x.name === name);
    if (!v) throw new GraphQLError(`file ${f.id} has no variant ${name} yet`, { extensions: { code: 'VARIANT_NOT_READY', variant: name, pending: f.variantsPending } });
    return this.signed(f, v.fileName);
  }

  /** The store's rules for one PUT; the status it answers. */
  private store(req: IncomingMessage, fileName: string, part: number | undefined, body: Buffer): number {
    const up = this.pending.get(fileName);
    if (!up) return 404;
    const checksum = req.headers['x-amz-checksum-sha256'];
    if (checksum !== undefined && checksum !== sha256(body)) return 400;
    if (part === undefined) {
      if (up.parts || body.length !== up.size || checksum !== up.checksum) return 403; // not what was signed
      if (req.headers['if-none-match'] !== '*' || req.headers['content-type'] !== up.contentType) return 403;
      if (this.objects.has(fileName)) return 412;
      this.objects.set(fileName, body);
      return 200;
    }
    const p = up.parts;
    if (!p || part < 1 || part > p.partCount) return 404;
    const size = part < p.partCount ? p.partSize : up.size - p.partSize * (p.partCount - 1);
    if (body.length !== size) return 403;
    p.stored.set(part, body);
    return 200;
  }

  private async query(req: IncomingMessage, res: ServerResponse) {
    const { query, variables, operationName } = JSON.parse((await readBody(req))?.toString() ?? '{}');
    const name = operationName ?? /(?:query|mutation)\s+(\w+)/.exec(query)?.[1] ?? '';
    this.operations.push(name);
    this.emit('operation', name);
    const result = await graphql({ schema, source: query, variableValues: variables, operationName, rootValue: this.root() });
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(result));
  }

  private root() {
    const issue = (r: { originalName: string; size: number; contentType?: string | null }): Pending => {
      const now = Date.now();
      return {
        fileName: `${++this.seq}-${r.originalName}`,
        originalName: r.originalName,
        size: r.size,
        contentType: r.contentType ?? 'application/octet-stream',
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + 3_600_000).toISOString(),
      };
    };
    const headers = (checksum?: string | null) => (checksum ? [{ name: 'x-amz-checksum-sha256', value: checksum }] : []);
    const pendingNode = (p: Pending) => ({
      ...p,
      partSize: p.parts?.partSize ?? null,
      partCount: p.parts?.partCount ?? null,
      uploadedParts: [...(p.parts?.stored ?? [])].map(([partNumber, b]) => ({ partNumber, size: b.length })),
    });
    return {
      createUploadUrls: ({ files }: { files: { originalName: string; size: number; contentType?: string; checksumSHA256?: string }[] }) =>
        files.map((f) => {
          const p = { ...issue(f), checksum: f.checksumSHA256 ?? undefined };
          this.pending.set(p.fileName, p);
          return {
            ...p,
            url: `${this.url}/store/${encodeURIComponent(p.fileName)}`,
            method: 'PUT',
            headers: [
              { name: 'Content-Length', value: String(p.size) },
              { name: 'Content-Type', value: p.contentType },
              { name: 'If-None-Match', value: '*' },
              ...headers(p.checksum),
            ],
          };
        }),
      createMultipartUploads: ({ files }: { files: { originalName: string; size: number; contentType?: string }[] }) =>
        files.map((f) => {
          const p = issue(f);
          p.parts = { partSize: this.partSize, partCount: Math.ceil(f.size / this.partSize), stored: new Map() };
          this.pending.set(p.fileName, p);
          return { ...p, partSize: p.parts.partSize, partCount: p.parts.partCount };
        }),
      uploadPartUrls: ({ fileName, parts }: { fileName: string; parts: { partNumber: number; checksumSHA256?: string }[] }) => {
        const p = this.pending.get(fileName);
        if (!p?.parts) throw new GraphQLError('no such upload in parts', { extensions: { code: 'NOT_FOUND' } });
        const { partSize, partCount } = p.parts;
        return parts.map(({ partNumber, checksumSHA256 }) => ({
          partNumber,
          size: partNumber < partCount ? partSize : p.size - partSize * (partCount - 1),
          url: `${this.url}/parts/${encodeURIComponent(fileName)}?partNumber=${partNumber}`,
          method: 'PUT',
          headers: headers(checksumSHA256),
          expiresAt: p.expiresAt,
        }));
      },
      saveFiles: ({ files }: { files: { fileName: string; originalName: string }[] }) =>
        files.map(({ fileName, originalName }) => {
          const p = this.pending.get(fileName);
          if (!p) throw userError(`${fileName}: no such upload`);
          if (p.parts) {
            const { partCount, stored } = p.parts;
            const missing = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !stored.has(n));
            if (missing.length) throw userError(`${fileName}: parts ${missing.join(', ')} are missing`);
            this.objects.set(fileName, Buffer.concat([...stored].sort(([a], [b]) => a - b).map(([, b]) => b)));
          }
          const object = this.objects.get(fileName);
          if (!object || object.length !== p.size || (p.checksum && sha256(object) !== p.checksum)) throw userError(`${fileName}: not the file that was announced`);
          this.pending.delete(fileName);
          const saved: SavedFile = { id: `id-${fileName}`, fileName, originalName, size: object.length, contentType: p.contentType, createdAt: p.createdAt, collection: 'default', folder: '', metadata: {}, url: null, status: 'READY', scanResult: null, variants: [], variantsPending: true };
          this.saved.push(saved);
          return saved;
        }),
      files: ({ first }: { first?: number | null }) => {
        const nodes = [...this.saved].reverse().slice(0, first ?? 100).map((f) => ({
          ...f,
          downloadUrl: () => this.link(f),
          scanResult: () => this.scanResultOf(f),
          // Listed only while the file is servable, each signed like its link.
          variants: () => (f.status === 'READY' ? f.variants.map((v) => ({ ...v, url: this.signed(f, v.fileName).url })) : []),
        }));
        return {
          totalCount: this.saved.length,
          pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
          edges: nodes.map((node) => ({ node, cursor: node.id })),
        };
      },
      fileDownloadUrl: ({ id, variant }: { id: string; variant?: string | null }) => {
        const f = this.saved.find((x) => x.id === id);
        if (!f) throw new GraphQLError('file not found', { extensions: { code: 'NOT_FOUND' } });
        return variant == null ? this.link(f) : this.variantLink(f, variant);
      },
      abortUpload: ({ fileName }: { fileName: string }) => {
        this.emit('aborted', fileName);
        return this.pending.delete(fileName);
      },
      upload: ({ fileName }: { fileName: string }) => {
        const p = this.pending.get(fileName);
        return p && pendingNode(p);
      },
      uploads: () => {
        const nodes = [...this.pending.values()].reverse().map(pendingNode);
        return {
          totalCount: nodes.length,
          pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
          edges: nodes.map((node) => ({ node, cursor: node.fileName })),
        };
      },
    };
  }
}

/** The whole body, or undefined if the client went away first. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
    req.on('close', () => {
      if (!req.complete) resolve(undefined);
    });
  });
}
