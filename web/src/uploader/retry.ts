// The client's one retry policy, for GraphQL calls and PUTs alike (Uppy's
// HTTPCommunicationQueue and tus-js-client each keep one): what to retry is
// FilegraphError.retryable (network errors, 5xx, 429, 408, UNAVAILABLE, an
// expired URL), how often and how long to wait is here.
import { FilegraphError } from './errors';
import { aborted } from './http';

export interface RetryPolicy {
  /** Tries after the first failed one. */
  retries: number;
  /** Delay before try n+1 after n failed, in ms. */
  delay: (attempt: number) => number;
}

/**
 * Runs attempt until it resolves, throws what is not retryable, runs out of
 * tries, or the signal fires (then ABORTED). Each try is one whole step
 * (ask for a URL and PUT to it, say), so that what a try changed is redone
 * together.
 */
export async function retrying<T>(policy: RetryPolicy, signal: AbortSignal, attempt: (n: number) => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    if (signal.aborted) throw aborted();
    try {
      return await attempt(n);
    } catch (e) {
      if (signal.aborted) throw aborted();
      if (!(e instanceof FilegraphError) || !e.retryable || n > policy.retries) throw e;
      await sleep(policy.delay(n), signal);
    }
  }
}

/** Waits ms, or rejects with ABORTED as soon as signal fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(aborted());
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(aborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Exponential backoff with full jitter: attempt 1 waits up to base, then 2×, 4×… capped. */
export function backoff(attempt: number, base = 500, cap = 15_000): number {
  return Math.random() * Math.min(cap, base * 2 ** (attempt - 1));
}
