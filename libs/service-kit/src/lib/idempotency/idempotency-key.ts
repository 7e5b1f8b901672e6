import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { KitRequest } from '../http-types';
import { BadRequestProblem } from '../problem/domain-exception';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Set to `true` on a response that replays the stored first response. */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

// Visible ASCII only: keys are echoed into logs and compared byte for byte. A repeated header arrives joined by
// ", ", which the space refuses.
const KEY = /^[\x21-\x7e]{1,255}$/;

/** The header's value, or undefined when absent; 400 problem+json unless 1 to 255 visible ASCII characters. */
export function parseIdempotencyKey(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && KEY.test(value)) return value;
  throw new BadRequestProblem('Idempotency-Key must be 1 to 255 visible ASCII characters', {
    errors: [{ field: 'Idempotency-Key', pointer: '#/headers/idempotency-key', detail: 'is not a valid idempotency key' }],
  });
}

/** The request's validated `Idempotency-Key` (see parseIdempotencyKey): `handler(@IdempotencyKey() key?: string)`. */
export const IdempotencyKey = createParamDecorator((_data: unknown, ctx: ExecutionContext): string | undefined =>
  parseIdempotencyKey(ctx.switchToHttp().getRequest<KitRequest>().headers[IDEMPOTENCY_KEY_HEADER]),
);

/** OpenAPI: the route honours `Idempotency-Key` (DESIGN "API conventions"). */
export const ApiIdempotencyKey = (): MethodDecorator =>
  ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: KEY.source },
    description:
      'Up to 255 visible ASCII characters, per tenant, kept 24 h: the same key and body replay the first response ' +
      '(header `idempotent-replayed: true`); another body → 422; while the first request runs → 409.',
  });
