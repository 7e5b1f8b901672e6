import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServiceLogger, requestIdFor } from './http-logger';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function idFor(given: string): { id: string; echoed: unknown } {
  let echoed: unknown;
  const res = { setHeader: (_name: string, value: unknown) => (echoed = value) } as unknown as ServerResponse;
  const id = requestIdFor({ headers: { 'x-request-id': given } } as unknown as IncomingMessage, res);
  return { id, echoed };
}

describe('requestIdFor', () => {
  it('keeps a short id of letters, digits and . _ : - that starts with a letter or digit', () => {
    for (const given of ['req-1', '0ab.c:d-e_f', 'A'.repeat(128)]) expect(idFor(given)).toEqual({ id: given, echoed: given });
  });

  it('replaces, with a UUID it echoes, an id that starts with anything else, or is too long or odd', () => {
    for (const given of ['--help', '-.-', '...', ':x', '_x', 'A'.repeat(129), 'a b', '<script>', '']) {
      const { id, echoed } = idFor(given);
      expect(id).toMatch(UUID);
      expect(echoed).toBe(id);
    }
  });
});

describe('createServiceLogger', () => {
  it('redacts credentials in logged request headers, Proxy-Authorization included', () => {
    const lines: string[] = [];
    const logger = createServiceLogger({ service: 'test', level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    logger.info({ req: { headers: { authorization: 'Bearer aaa', 'proxy-authorization': 'Basic cHJveHk6c2VjcmV0', 'x-api-key': 'tsk_k' } } }, 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('cHJveHk6c2VjcmV0');
    expect(JSON.parse(lines[0]).req.headers).toEqual({ authorization: '[redacted]', 'proxy-authorization': '[redacted]', 'x-api-key': '[redacted]' });
  });
});
