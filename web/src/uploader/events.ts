// Live file events: Subscription.fileEvents over graphql-ws (a WebSocket
// at the API's own /query, the token in connection_init since a browser
// cannot set headers on a WebSocket).
//
// A subscription sees what commits after it starts. Whenever there may be
// a gap (the first connection, a reconnect after the socket closed, the
// server dropping a subscriber that fell behind, a replica going away) the
// helper calls onResync: list again to catch up, then take events.
import { createClient, type Client } from 'graphql-ws';
import manifest from '../gql/persisted-documents.json';
import type { FileEventsSubscription, FileEventsSubscriptionVariables } from '../gql/graphql';
import { FileEvents } from './documents';
import { FilegraphError } from './errors';

export type FileEvent = FileEventsSubscription['fileEvents'];

export interface FileEventsOptions {
  /** The GraphQL endpoint, e.g. https://files.example.com/query (ws: or wss: is derived). */
  url: string;
  /** The bearer token, read at each (re)connection. */
  token?: () => string | null | undefined;
  /** Only this collection's events. */
  collection?: string;
  /** Each event, in the order each file changed. */
  onEvent: (event: FileEvent) => void;
  /** Events may have been missed (and at the start): list to catch up. */
  onResync?: () => void;
  /** Whether events are flowing, for a "live" indicator. */
  onStatus?: (live: boolean) => void;
  /** A refusal retrying cannot mend (FORBIDDEN, a limit): the helper stops. */
  onError?: (error: FilegraphError) => void;
}

/** The document's text as its persisted-documents manifest has it, which a GRAPHQL_TRUSTED_DOCUMENTS server runs. */
function documentText(): string {
  const hash = (FileEvents as { __meta__?: { hash?: string } }).__meta__?.hash ?? '';
  const text = (manifest as Record<string, string>)[hash];
  if (!text) throw new Error('FileEvents is missing from the persisted-documents manifest: run npm run codegen');
  return text;
}

/** The codes after which subscribing again is the way on. */
const transient = new Set(['SUBSCRIBER_TOO_SLOW', 'GOING_AWAY', 'UNAVAILABLE']);

/**
 * Follows the caller's file events until the returned function is called.
 * Reconnects by itself (graphql-ws's backoff) unless the server refuses
 * the token (4403) or the subscription for good.
 */
export function subscribeFileEvents(options: FileEventsOptions): () => void {
  const wsURL = new URL(options.url);
  wsURL.protocol = wsURL.protocol === 'https:' ? 'wss:' : 'ws:';
  let stopped = false;
  let unsubscribe: (() => void) | undefined;
  const client: Client = createClient({
    url: wsURL.href,
    connectionParams: () => {
      const token = options.token?.();
      return token ? { Authorization: `Bearer ${token}` } : {};
    },
    retryAttempts: Infinity,
    // graphql-ws gives up on 4xxx closes (4403: a refused token) and
    // retries the rest, 1001 (a replica going away) among them.
    on: {
      connected: () => {
        options.onStatus?.(true);
        // The first connection starts from now; a later one after a gap.
        options.onResync?.();
      },
      closed: () => options.onStatus?.(false),
    },
  });
  const query = documentText();
  const variables: FileEventsSubscriptionVariables = { collection: options.collection ?? null };
  const start = () => {
    unsubscribe = client.subscribe<FileEventsSubscription, FileEventsSubscriptionVariables>(
      { query, variables },
      {
        next: (result) => {
          if (result.data) options.onEvent(result.data.fileEvents);
          const e = result.errors?.[0];
          if (e) end(e.extensions?.code as string | undefined, e.message);
        },
        error: (err) => {
          const list = Array.isArray(err) ? err : [];
          const first = list[0] as { message?: string; extensions?: { code?: string } } | undefined;
          if (first) return end(first.extensions?.code, first.message ?? 'subscription refused');
          // A close graphql-ws does not retry (4403 and the like).
          const close = err as { code?: number; reason?: string };
          end(close.code === 4403 ? 'FORBIDDEN' : 'NETWORK_ERROR', close.reason || 'the event connection closed');
        },
        complete: () => {},
      },
    );
  };
  // The subscription ended with an error: subscribe again if it may pass
  // (the gap makes the app list), else report and stop.
  const end = (code: string | undefined, message: string) => {
    if (stopped) return;
    if (code && transient.has(code)) {
      unsubscribe?.();
      setTimeout(() => {
        if (stopped) return;
        options.onResync?.();
        start();
      }, 500);
      return;
    }
    options.onStatus?.(false);
    options.onError?.(new FilegraphError(code ?? 'INTERNAL_SERVER_ERROR', message));
  };
  start();
  return () => {
    stopped = true;
    unsubscribe?.();
    void client.dispose();
  };
}
