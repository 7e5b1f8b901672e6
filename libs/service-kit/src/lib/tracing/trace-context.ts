import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { KitRequest, KitResponse, NextFunction } from '../http-types';

/**
 * W3C Trace Context (`traceparent: 00-<trace-id>-<parent-id>-<flags>`), carried from the gateway through every
 * service and into the events they write (DESIGN: "Trace context travels in a traceparent header"). Tessera records
 * no spans itself: it keeps the trace id intact from the client's request to the last event it caused, so that a
 * tracer or a log search can follow one request across services and transports.
 */
export const TRACEPARENT_HEADER = 'traceparent';

// Version 00 only; an all-zero trace id or parent id is invalid (W3C Trace Context §3.2.2).
const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** `value` when it is a valid version-00 traceparent, else undefined (a malformed one is dropped, not repaired). */
export function validTraceparent(value: unknown): string | undefined {
  return typeof value === 'string' && TRACEPARENT.test(value) ? value : undefined;
}

/** A new trace, not sampled (flags 00): Tessera itself records nothing. */
export function newTraceparent(): string {
  const bytes = randomBytes(24).toString('hex');
  return `00-${bytes.slice(0, 32)}-${bytes.slice(32)}-00`;
}

const storage = new AsyncLocalStorage<string | undefined>();

/** The trace of the request or event being handled, if it came with one. */
export function currentTraceparent(): string | undefined {
  return storage.getStore();
}

/** Runs `fn` in the trace `traceparent` (or in none), e.g. an event handler in the trace of its event. */
export function runWithTraceparent<T>(traceparent: string | undefined, fn: () => T): T {
  return storage.run(traceparent, fn);
}

/** Runs the rest of the request in the trace of its `traceparent` header (the gateway always sends one). */
export function traceContextMiddleware(req: KitRequest, _res: KitResponse, next: NextFunction): void {
  const header = req.headers[TRACEPARENT_HEADER];
  runWithTraceparent(validTraceparent(header), () => next());
}
