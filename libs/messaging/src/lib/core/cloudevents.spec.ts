import { createEnvelope, decodeBinary, encodeBinary, InvalidEventError } from './cloudevents';
import { partitionFor } from '../postgres/partitioner';

describe('CloudEvents envelope', () => {
  const tenantId = '7d3c1f0e-3c5b-4a7e-9a53-0d2f1f6d8b11';

  it('creates a 1.0 envelope whose partition key defaults to the subject', () => {
    const e = createEnvelope({ source: 'identity', type: 'identity.user.created', subject: 'u1', tenantId, data: { a: 1 } });
    expect(e).toMatchObject({
      specversion: '1.0',
      source: 'identity',
      type: 'identity.user.created',
      subject: 'u1',
      tenantid: tenantId,
      partitionkey: 'u1',
      datacontenttype: 'application/json',
      data: { a: 1 },
    });
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(e.time).toISOString()).toBe(e.time);
    expect(e.traceparent).toBeUndefined();
  });

  it('round-trips through binary content mode with ce_ headers and a JSON value', () => {
    const e = createEnvelope({
      source: 'inventory',
      type: 'inventory.reservation.confirmed',
      subject: 'r1',
      tenantId,
      partitionKey: 'item-9',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      data: { qty: 3, note: 'ü' },
    });
    const msg = encodeBinary(e);
    expect(msg.key).toBe('item-9');
    expect(msg.headers['ce_id']).toBe(e.id);
    expect(msg.headers['ce_type']).toBe('inventory.reservation.confirmed');
    expect(msg.headers['ce_tenantid']).toBe(tenantId);
    expect(msg.headers['content-type']).toBe('application/json');
    expect(msg.headers['traceparent']).toBe(e.traceparent);
    expect(JSON.parse(msg.value.toString())).toEqual({ qty: 3, note: 'ü' });
    // Kafka hands headers back as Buffers.
    const headers = Object.fromEntries(Object.entries(msg.headers).map(([k, v]) => [k, Buffer.from(v)]));
    expect(decodeBinary({ key: Buffer.from(msg.key), value: msg.value, headers })).toEqual(e);
  });

  it('refuses a message whose id or tenantid is not a UUID, and lower-cases both', () => {
    const e = createEnvelope({ source: 'orders', type: 'orders.order.placed', subject: 'o-1', tenantId: '0B8E3C1A-7F2D-4E5B-9C6A-1D2E3F4A5B6C', data: {} });
    const msg = encodeBinary({ ...e, id: e.id.toUpperCase() });
    const decoded = decodeBinary({ key: msg.key, value: msg.value, headers: msg.headers });
    expect([decoded.id, decoded.tenantid]).toEqual([e.id.toLowerCase(), '0b8e3c1a-7f2d-4e5b-9c6a-1d2e3f4a5b6c']);
    for (const [header, value] of [['ce_id', 'evt-42'], ['ce_tenantid', 'acme']]) {
      expect(() => decodeBinary({ key: msg.key, value: msg.value, headers: { ...msg.headers, [header]: value } })).toThrow(
        new InvalidEventError(`CloudEvent header ${header} is not a UUID`),
      );
    }
  });

  it('refuses a message without the required attributes', () => {
    expect(() => decodeBinary({ key: 'k', value: Buffer.from('{}'), headers: { ce_specversion: '1.0' } })).toThrow(InvalidEventError);
    expect(() => decodeBinary({ key: 'k', value: Buffer.from('{}'), headers: {} })).toThrow(/ce_specversion/);
    // Each of DESIGN.md's required attributes, taken away from an otherwise valid event (no stand-in from the key or the clock).
    const e = createEnvelope({ source: 'orders', type: 'orders.order.placed', subject: 'o-1', tenantId: '0b8e3c1a-7f2d-4e5b-9c6a-1d2e3f4a5b6c', data: {} });
    const msg = encodeBinary(e);
    for (const name of ['id', 'source', 'type', 'specversion', 'time', 'subject', 'tenantid', 'partitionkey']) {
      const headers: Record<string, string> = { ...msg.headers };
      delete headers[`ce_${name}`];
      expect(() => decodeBinary({ key: msg.key, value: msg.value, headers })).toThrow(new InvalidEventError(`CloudEvent header ce_${name} is missing`));
    }
    for (const time of ['yesterday', '2026-13-45T99:00:00Z', '2026-12-07']) {
      expect(() => decodeBinary({ key: msg.key, value: msg.value, headers: { ...msg.headers, ce_time: time } })).toThrow(/ce_time is not an RFC 3339 time/);
    }
  });

  it('partitions like Kafka: stable per key and spread over partitions', () => {
    expect(partitionFor('abc', 8)).toBe(partitionFor('abc', 8));
    // murmur2('hello world') = 1221641059 (kafkajs' own implementation agrees)
    expect(partitionFor('hello world', 8)).toBe(1221641059 % 8);
    const used = new Set(Array.from({ length: 200 }, (_, i) => partitionFor(`key-${i}`, 8)));
    expect(used.size).toBe(8);
  });
});
