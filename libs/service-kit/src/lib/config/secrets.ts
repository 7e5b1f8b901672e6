import { z } from 'zod';

/** Schemas registered here hold secrets: `redactConfig` masks them, so configuration can be logged safely. */
const secretSchemas = z.registry<{ secret: true }>();

/** Marks a config field as a secret, e.g. `INTERNAL_TOKEN_SECRET: secret(z.string().min(32))`. */
export function secret<T extends z.ZodType>(schema: T): T {
  secretSchemas.add(schema, { secret: true });
  return schema;
}

// Names that hold secrets even when a service forgot to mark them.
const SECRET_NAME = /(SECRET|PASSWORD|TOKEN|CREDENTIAL|PRIVATE|(^|_)KEYS?$)/i;
export const REDACTED = '[redacted]';

function isMarkedSecret(schema: z.ZodType | undefined): boolean {
  let current: z.ZodType | undefined = schema;
  // Look through wrappers (default, optional, pipe...) down to the marked schema.
  for (let depth = 0; current && depth < 8; depth++) {
    if (secretSchemas.has(current)) return true;
    const def = current.def as { innerType?: z.ZodType; in?: z.ZodType };
    current = def.innerType ?? def.in;
  }
  return false;
}

/** Drops the password from URLs such as `postgres://user:password@host/db`. */
function maskUrlPassword(value: string): string {
  try {
    const url = new URL(value);
    if (!url.password) return value;
    url.password = REDACTED;
    return url.toString();
  } catch {
    return value;
  }
}

/**
 * A copy of a parsed configuration that is safe to log: fields marked with `secret()` in `schema`, and fields
 * whose name says they are secret, are replaced; passwords inside URLs are masked.
 */
export function redactConfig<T extends Record<string, unknown>>(config: T, schema?: z.ZodObject): Record<string, unknown> {
  const shape = (schema?.shape ?? {}) as Record<string, z.ZodType>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    if (isMarkedSecret(shape[key]) || SECRET_NAME.test(key)) out[key] = REDACTED;
    else if (typeof value === 'string') out[key] = maskUrlPassword(value);
    else out[key] = value;
  }
  return out;
}
