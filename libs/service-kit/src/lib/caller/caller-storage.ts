import { AsyncLocalStorage } from 'node:async_hooks';
import type { CallerContext } from '@tessera/contracts';

// The caller of the request being handled, so logs and persistence can read tenant and user without
// threading them through every call.
const storage = new AsyncLocalStorage<CallerContext>();

/** The caller of the current request, or undefined outside a request (relays, consumers, start-up). */
export function currentCaller(): CallerContext | undefined {
  return storage.getStore();
}

/** Runs `fn` with `caller` as the current caller (the middleware does this per request). */
export function runWithCaller<T>(caller: CallerContext, fn: () => T): T {
  return storage.run(caller, fn);
}
