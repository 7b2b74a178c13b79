// Subscribes to fileEvents on a running Filegraph with a real client and
// prints one JSON line per thing that happens, for events_process_test.go:
//   node subscribe.mjs ws|sse BASE_URL TOKEN COUNT [COLLECTION]
// {"ready":true} once the client is connected (ws) or the request is sent
// (sse); {"event":{...},"at":ms} per event (at: the wall clock, Unix ms, to
// compare with the server's event time; performance.now() is monotonic
// and drifted from it by ~6 ms/s here); {"closed":code,"reason":...} or
// {"error":...} when
// it ends otherwise; it exits after COUNT events.
import { createClient as createWS } from 'graphql-ws';
import { createClient as createSSE } from 'graphql-sse';
import WebSocket from 'ws';

const [mode, base, token, countArg, collection] = process.argv.slice(2);
const count = Number(countArg);
const query = 'subscription($c: String) { fileEvents(collection: $c) { id type fileId at file { id originalName collection } } }';
const request = { query, variables: collection ? { c: collection } : {} };
const out = (v) => process.stdout.write(JSON.stringify(v) + '\n');
const now = () => Date.now();
let seen = 0;
let client;

const sink = {
  next: (r) => {
    if (r.errors) out({ error: r.errors });
    if (r.data) out({ event: r.data.fileEvents, at: now() });
    if (r.data && ++seen >= count) {
      client.dispose();
      process.exit(0);
    }
  },
  error: (e) => {
    out({ error: Array.isArray(e) ? e : String(e?.message ?? e), closed: e?.code, reason: e?.reason });
    process.exit(0);
  },
  complete: () => {
    out({ complete: true });
    process.exit(0);
  },
};

if (mode === 'ws') {
  client = createWS({
    url: base.replace(/^http/, 'ws') + '/query',
    webSocketImpl: WebSocket,
    connectionParams: token ? { Authorization: `Bearer ${token}` } : undefined,
    retryAttempts: 0,
    lazy: false,
    on: {
      connected: () => out({ ready: true }),
      closed: (e) => out({ closed: e.code, reason: e.reason }),
    },
    onNonLazyError: (e) => {
      out({ error: String(e?.reason ?? e), closed: e?.code });
      process.exit(0);
    },
  });
  client.subscribe(request, sink);
} else {
  client = createSSE({
    url: base + '/query',
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
  });
  client.subscribe(request, sink);
  out({ ready: true });
}
