import type { KitRequest, KitResponse, NextFunction } from '../http-types';
import { BadRequestProblem, ValidationProblem } from './domain-exception';
import type { FieldError } from './problem';

/**
 * The deepest nesting a JSON body may have. No Tessera API needs more than a few levels (free-form `attributes`
 * included); a deeper body is refused before code that walks it recursively (class-transformer, Nest's
 * prototype-key stripping) runs out of stack, which answered a 5,000-level body with a 500.
 */
export const MAX_JSON_DEPTH = 32;

const NUL = '\u0000';

const escapePointer = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The first fault of a parsed JSON body that no validator catches: nesting deeper than MAX_JSON_DEPTH, or a NUL
 * character in a string or a key (PostgreSQL cannot store one in text or jsonb, so it surfaced as a 500).
 * Iterative, so the body's depth cannot exhaust the stack here either.
 */
export function jsonBodyFault(body: unknown): FieldError | undefined {
  const stack: { value: unknown; path: string[]; depth: number }[] = [{ value: body, path: [], depth: 0 }];
  const fault = (path: string[], detail: string): FieldError => ({
    field: path.join('.'),
    pointer: `#/${path.map(escapePointer).join('/')}`,
    detail,
  });
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop() as { value: unknown; path: string[]; depth: number };
    if (typeof value === 'string') {
      if (value.includes(NUL)) return fault(path, 'must not contain a NUL character (\\u0000)');
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return fault(path, `nests deeper than ${MAX_JSON_DEPTH} levels`);
    const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    for (const [key, child] of entries) {
      if (key.includes(NUL)) return fault(path, 'has a key with a NUL character (\\u0000)');
      stack.push({ value: child, path: [...path, key], depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * Refuses, as 400 problem+json, what would otherwise reach PostgreSQL or a recursive walker and come back as a
 * 500: a NUL character in the URL (`%00`, in a path parameter or the query) or in the JSON body, and a body nested
 * deeper than MAX_JSON_DEPTH. Mounted right after the JSON body parser.
 */
export function inputGuardMiddleware(req: KitRequest, _res: KitResponse, next: NextFunction): void {
  if (/%00/i.test(req.originalUrl ?? req.url ?? '')) {
    next(new BadRequestProblem('The URL contains a NUL character (%00)'));
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
