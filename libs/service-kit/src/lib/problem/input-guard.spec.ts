import { jsonBodyFault, MAX_JSON_DEPTH } from './input-guard';

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
