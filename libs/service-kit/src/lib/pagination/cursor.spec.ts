import { z } from 'zod';
import { BadRequestProblem } from '../problem/domain-exception';
import { decodeCursor, encodeCursor } from './cursor';

describe('cursors', () => {
  const schema = z.object({ createdAt: z.string(), id: z.string().uuid() });
  const position = { createdAt: '2026-01-01T00:00:00.000Z', id: '0b7e9c1e-6d0a-4a35-9d41-2d0f3c3c1f00' };

  it('round-trips a position through an opaque base64url string', () => {
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, schema)).toEqual(position);
  });

  it.each([
    ['not base64url', '%%%'],
    ['not JSON', Buffer.from('{oops').toString('base64url')],
    ['the wrong shape', encodeCursor({ id: 'x' })],
    ['empty', ''],
    ['too long', 'A'.repeat(2000)],
  ])('refuses a cursor that is %s with a 400 problem', (_what, cursor) => {
    expect(() => decodeCursor(cursor, schema)).toThrow(BadRequestProblem);
    try {
      decodeCursor(cursor, schema);
    } catch (error) {
      expect((error as BadRequestProblem).getStatus()).toBe(400);
    }
  });
});
