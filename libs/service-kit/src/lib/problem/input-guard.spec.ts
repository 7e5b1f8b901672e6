import type { KitRequest, KitResponse } from '../http-types';
import { ValidationProblem } from './domain-exception';
import { inputGuardMiddleware, jsonBodyFault, MAX_JSON_DEPTH, MAX_JSON_MEMBERS, MAX_JSON_TOTAL_MEMBERS } from './input-guard';

const nested = (levels: number): unknown => {
  let value: unknown = 'leaf';
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { k: value };
  return value;
};

describe('jsonBodyFault', () => {
  it('accepts ordinary bodies, and nesting up to the limit', () => {
    expect(jsonBodyFault({ items: [{ sku: 'A-1', quantity: 1 }], customer: { name: 'C' } })).toBeUndefined();
    expect(jsonBodyFault(nested(MAX_JSON_DEPTH))).toBeUndefined();
    expect(jsonBodyFault([])).toBeUndefined();
  });

  it('refuses nesting one level deeper than the limit, naming where', () => {
    const fault = jsonBodyFault(nested(MAX_JSON_DEPTH + 1));
    expect(fault?.detail).toBe(`nests deeper than ${MAX_JSON_DEPTH} levels`);
    expect(fault?.pointer.split('/')).toHaveLength(MAX_JSON_DEPTH + 1);
  });

  it('walks a very deep body without recursion', () => {
    let value: unknown = 1;
    for (let i = 0; i < 200_000; i++) value = [value];
    expect(jsonBodyFault(value)?.detail).toMatch(/deeper/);
  });

  it('accepts up to MAX_JSON_MEMBERS keys or items in one container and refuses one more, naming where', () => {
    const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(jsonBodyFault({ attributes: keys(MAX_JSON_MEMBERS), items: Array(MAX_JSON_MEMBERS).fill(1) })).toBeUndefined();
    expect(jsonBodyFault({ attributes: keys(MAX_JSON_MEMBERS + 1) })).toEqual({
      field: 'attributes',
      pointer: '#/attributes',
      detail: `has ${MAX_JSON_MEMBERS + 1} keys; at most ${MAX_JSON_MEMBERS} are accepted`,
    });
    expect(jsonBodyFault({ items: Array(MAX_JSON_MEMBERS + 1).fill({}) })?.detail).toMatch(/items; at most/);
  });

  it('refuses a body whose containers hold more than MAX_JSON_TOTAL_MEMBERS members in all', () => {
    const rows = Math.ceil(MAX_JSON_TOTAL_MEMBERS / MAX_JSON_MEMBERS) + 1;
    const body = { rows: Array.from({ length: rows }, () => Array(MAX_JSON_MEMBERS - 1).fill({})) };
    expect(jsonBodyFault(body)).toEqual({ field: '', pointer: '#/', detail: `has more than ${MAX_JSON_TOTAL_MEMBERS} keys and items in all` });
    expect(jsonBodyFault({ rows: body.rows.slice(0, rows - 2) })).toBeUndefined();
  });

  it('refuses the keys Nest or class-transformer would drop silently (__proto__, prototype, toString, …), at any depth, naming them', () => {
    expect(jsonBodyFault(JSON.parse('{"__proto__":{"polluted":1}}'))).toMatchObject({ field: '__proto__', pointer: '#/__proto__', detail: expect.stringMatching(/^__proto__ is not accepted/) });
    expect(jsonBodyFault({ title: 'x', attributes: { constructor: { prototype: 1 } } })).toMatchObject({ field: 'attributes.constructor', detail: expect.stringMatching(/^constructor/) });
    expect(jsonBodyFault({ items: [{ prototype: 1 }] })).toMatchObject({ field: 'items.0.prototype' });
    for (const key of ['toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__', '__lookupSetter__']) {
      expect(jsonBodyFault({ customer: { name: 'x', [key]: 1 } })).toMatchObject({ field: `customer.${key}` });
    }
    expect(jsonBodyFault({ attributes: { constructed: 1, proto: 2, ToString: 3, string: 4 } })).toBeUndefined();
  });

  it('finds a NUL character in a string or a key, with a JSON Pointer that escapes ~ and /', () => {
    expect(jsonBodyFault({ lines: [{ sku: 'ok' }, { sku: 'A\u0000' }] })).toEqual({
      field: 'lines.1.sku',
      pointer: '#/lines/1/sku',
      detail: 'must not contain a NUL character (\\u0000)',
    });
    expect(jsonBodyFault({ 'a/b~c': { x: '\u0000' } })?.pointer).toBe('#/a~1b~0c/x');
    expect(jsonBodyFault({ attributes: { 'bad\u0000key': 1 } })).toMatchObject({ field: 'attributes', detail: expect.stringMatching(/key/) });
  });

  it('finds an unpaired surrogate in a string or a key, and lets paired ones (emoji) through', () => {
    expect(jsonBodyFault({ title: 'Lamp \ud83d' })).toEqual({
      field: 'title',
      pointer: '#/title',
      detail: 'must be well-formed Unicode (it has an unpaired surrogate, \\ud800 to \\udfff)',
    });
    expect(jsonBodyFault({ name: '\udc00 first' })?.field).toBe('name');
    expect(jsonBodyFault({ attributes: { ['k\ud800']: 'v' } })).toMatchObject({ field: 'attributes', detail: expect.stringMatching(/key/) });
    expect(jsonBodyFault({ title: 'Lamp \ud83d\udca1 ❤️ 日本' })).toBeUndefined();
  });
});

describe('inputGuardMiddleware', () => {
  /** What the middleware passed to next() for a request with this query (as Express 5's parser leaves it) and body. */
  const guard = (query: Record<string, unknown>, body?: unknown): unknown => {
    let passed: unknown = 'not called';
    const req = { url: '/v1/x', originalUrl: '/v1/x', headers: {}, query, body } as unknown as KitRequest;
    inputGuardMiddleware(req, {} as KitResponse, (e?: unknown) => (passed = e));
    return passed;
  };

  it('refuses a query parameter named like a property of every object, which class-transformer or Nest would drop', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      // Express 5's query parser (node:querystring) builds an object without a prototype, so each is an own key.
      const query = Object.assign(Object.create(null), { status: 'paid', [name]: '1' });
      const refused = guard(query);
      expect(refused).toBeInstanceOf(ValidationProblem);
      expect((refused as ValidationProblem).errors).toMatchObject([{ field: name, pointer: `#/${name}` }]);
    }
    expect(guard({ status: 'paid', string: 'x', ToString: 'y' })).toBeUndefined();
  });

  it('refuses such a key in the body, naming where it is', () => {
    const refused = guard({}, { reason: 'declined', isPrototypeOf: true });
    expect((refused as ValidationProblem).errors).toMatchObject([{ field: 'isPrototypeOf', pointer: '#/isPrototypeOf' }]);
  });
});
