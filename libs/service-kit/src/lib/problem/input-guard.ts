import type { KitRequest, KitResponse, NextFunction } from '../http-types';
import { BadRequestProblem, DomainException, ValidationProblem } from './domain-exception';
import type { FieldError } from './problem';

/**
 * The deepest nesting a JSON body may have. No Tessera API needs more than a few levels (free-form `attributes`
 * included); a deeper body is refused before code that walks it recursively (class-transformer, Nest's
 * prototype-key stripping) runs out of stack, which answered a 5,000-level body with a 500.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * The most members one object or array of a body may have, and the most a whole body may have. The largest request
 * any Tessera API takes is a product with 100 variants; within the 1 MiB body limit, a body of 100,000 keys kept
 * identity's event loop busy for seconds in class-transformer (whose work grows with the square of an object's
 * keys) and the flattening of its errors, long enough for the gateway's lookups to time out for every tenant.
 */
export const MAX_JSON_MEMBERS = 1_000;
export const MAX_JSON_TOTAL_MEMBERS = 10_000;

const NUL = '\u0000';
/** A UTF-16 surrogate without its pair: not a character, and PostgreSQL refuses its JSON escape (a 500 in jsonb). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with a string of the body, if anything. */
function stringFault(text: string): string | undefined {
  if (text.includes(NUL)) return 'must not contain a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (it has an unpaired surrogate, \\ud800 to \\udfff)';
  return undefined;
}

const escapePointer = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Keys that no DTO can declare and that were dropped without a word: Nest's validation pipe deletes `__proto__`,
 * `prototype` and `constructor` from every object (against prototype pollution), so `{"__proto__": …}` passed as
 * an empty (valid) PATCH; class-transformer skips any key the object it builds already has as a method, i.e. every
 * name on Object.prototype (`toString`, `hasOwnProperty`, `valueOf`, …), so such a field got past the refusal of
 * unknown fields. Refused instead, in bodies and query strings.
 */
const RESERVED_KEYS = new Set(['prototype', ...Object.getOwnPropertyNames(Object.prototype)]);
const reservedKeyDetail = (key: string) => `${key} is not accepted here: no Tessera API has a field named like a property of every JavaScript object`;

/**
 * The first fault of a parsed JSON body that no validator catches: nesting deeper than MAX_JSON_DEPTH, more members
 * than MAX_JSON_MEMBERS in one object or array or than MAX_JSON_TOTAL_MEMBERS in all, or a NUL
 * character or an unpaired surrogate in a string or a key (PostgreSQL cannot store a NUL in text or jsonb, nor read
 * a lone surrogate's escape in json, so both surfaced as a 500; text columns silently replaced the surrogate).
 * Iterative, so the body's depth cannot exhaust the stack here either.
 */
export function jsonBodyFault(body: unknown): FieldError | undefined {
  // Each entry links to its parent instead of copying its path: the path is only built for the fault, if any.
  interface Entry {
    value: unknown;
    key: string;
    parent: Entry | undefined;
    depth: number;
  }
  const pathOf = (entry: Entry | undefined): string[] => {
    const path: string[] = [];
    for (let e = entry; e?.parent; e = e.parent) path.unshift(e.key);
    return path;
  };
  const fault = (entry: Entry, detail: string): FieldError => {
    const path = pathOf(entry);
    return { field: path.join('.'), pointer: `#/${path.map(escapePointer).join('/')}`, detail };
  };
  const stack: Entry[] = [{ value: body, key: '', parent: undefined, depth: 0 }];
  let members = 0;
  while (stack.length > 0) {
    const entry = stack.pop() as Entry;
    const { value, depth } = entry;
    if (typeof value === 'string') {
      const detail = stringFault(value);
      if (detail) return fault(entry, detail);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return fault(entry, `nests deeper than ${MAX_JSON_DEPTH} levels`);
    const size = Array.isArray(value) ? value.length : Object.keys(value).length;
    if (size > MAX_JSON_MEMBERS) return fault(entry, `has ${size} ${Array.isArray(value) ? 'items' : 'keys'}; at most ${MAX_JSON_MEMBERS} are accepted`);
    members += size;
    if (members > MAX_JSON_TOTAL_MEMBERS) return fault({ value: body, key: '', parent: undefined, depth: 0 }, `has more than ${MAX_JSON_TOTAL_MEMBERS} keys and items in all`);
    // Numbers, booleans and nulls cannot be at fault: only faulty strings and containers are visited.
    const suspect = (child: unknown) => (typeof child === 'string' ? stringFault(child) !== undefined : child !== null && typeof child === 'object');
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++)
        if (suspect(value[i])) stack.push({ value: value[i], key: String(i), parent: entry, depth: depth + 1 });
      continue;
    }
    for (const key of Object.keys(value)) {
      const keyFault = stringFault(key);
      if (keyFault) return fault(entry, `has a key that ${keyFault}`);
      if (RESERVED_KEYS.has(key)) return fault({ value: undefined, key, parent: entry, depth: depth + 1 }, reservedKeyDetail(key));
      const child = (value as Record<string, unknown>)[key];
      if (suspect(child)) stack.push({ value: child, key, parent: entry, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * Refuses, as 400 problem+json, what would otherwise reach PostgreSQL or a recursive walker and come back as a
 * 500 or a stalled process, or be dropped without a word: a query parameter or body key named like a property of
 * Object.prototype, a NUL character in the URL (`%00`, in a path parameter or the query) or in the JSON
 * body, a body nested deeper than MAX_JSON_DEPTH, and one with more members than the MAX_JSON_* limits. Mounted
 * right after the JSON body parser.
 */
export function inputGuardMiddleware(req: KitRequest, _res: KitResponse, next: NextFunction): void {
  if (/%00/i.test(req.originalUrl ?? req.url ?? '')) {
    next(new BadRequestProblem('The URL contains a NUL character (%00)'));
    return;
  }
  const query: unknown = (req as KitRequest & { query?: unknown }).query;
  if (query !== null && typeof query === 'object') {
    const key = Object.keys(query).find((k) => RESERVED_KEYS.has(k));
    if (key !== undefined) {
      next(new ValidationProblem([{ field: key, pointer: `#/${escapePointer(key)}`, detail: reservedKeyDetail(key) }]));
      return;
    }
  }
  if (Array.isArray(req.body)) {
    // Every Tessera API takes an object (or nothing); an array would reach the DTO checks as an empty object.
    next(new ValidationProblem([{ field: '', pointer: '#', detail: 'the request body must be a JSON object, not an array' }]));
    return;
  }
  if (req.body !== null && typeof req.body === 'object') {
    const fault = jsonBodyFault(req.body);
    if (fault) {
      next(new ValidationProblem([fault]));
      return;
    }
  }
  next();
}

/** The media types the JSON body parser reads (bootstrapService): application/json and application/<anything>+json. */
const JSON_MEDIA_TYPE = /^application\/(?:[a-z0-9!#$&^_.-]+\+)?json$/;

/**
 * Refuses with 415 a request that carries a body the JSON parser did not read because of its Content-Type (a form,
 * text/plain, or none at all): the body would be dropped without a word and the call go on as if it had none, e.g.
 * failing a payment with `reason=...` sent as a form recorded no reason. A request with an empty body (no
 * Content-Length, or 0, and not chunked) passes whatever its type. Mounted right after the JSON body parser.
 */
export function jsonOnlyBodyMiddleware(req: KitRequest, _res: KitResponse, next: NextFunction): void {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (hasBody && !JSON_MEDIA_TYPE.test(mediaType)) {
    next(
      new DomainException('unsupported_media_type', `Request bodies must be JSON (Content-Type: application/json), not ${mediaType || 'untyped'}`, {
        extensions: { reason: 'body_not_json' },
      }),
    );
    return;
  }
  next();
}
