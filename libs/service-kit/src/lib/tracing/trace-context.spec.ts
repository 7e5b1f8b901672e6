import type { KitRequest, KitResponse } from '../http-types';
import { currentTraceparent, newTraceparent, runWithTraceparent, traceContextMiddleware, validTraceparent } from './trace-context';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('trace context', () => {
  it('accepts version-00 traceparents only, and refuses all-zero ids and malformed values', () => {
    expect(validTraceparent(VALID)).toBe(VALID);
    for (const bad of [
      undefined,
      42,
      '',
      VALID.toUpperCase(),
      `01-${VALID.slice(3)}`,
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      `${VALID}-extra`,
      ' ' + VALID,
    ]) {
      expect(validTraceparent(bad)).toBeUndefined();
    }
  });

  it('makes new, valid, distinct, unsampled traces', () => {
    const a = newTraceparent();
    const b = newTraceparent();
    expect(validTraceparent(a)).toBe(a);
    expect(a.endsWith('-00')).toBe(true);
    expect(a.slice(3, 35)).not.toBe(b.slice(3, 35));
  });

  it('runs code in a trace, nested and restored, and nowhere outside', async () => {
    expect(currentTraceparent()).toBeUndefined();
    const other = newTraceparent();
    await runWithTraceparent(VALID, async () => {
      await new Promise((r) => setTimeout(r, 1));
      expect(currentTraceparent()).toBe(VALID);
      runWithTraceparent(other, () => expect(currentTraceparent()).toBe(other));
      runWithTraceparent(undefined, () => expect(currentTraceparent()).toBeUndefined());
      expect(currentTraceparent()).toBe(VALID);
    });
    expect(currentTraceparent()).toBeUndefined();
  });

  it('the middleware runs the request in the trace of its header, or in none when it is missing or malformed', () => {
    const seen: (string | undefined)[] = [];
    for (const header of [VALID, 'garbage', undefined]) {
      const req = { headers: header === undefined ? {} : { traceparent: header } } as unknown as KitRequest;
      traceContextMiddleware(req, {} as KitResponse, () => seen.push(currentTraceparent()));
    }
    expect(seen).toEqual([VALID, undefined, undefined]);
  });
});
