import { z } from 'zod';
import { secret } from './secrets';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A TCP port from the environment; services give their own default: `portSchema.default(3101)`. */
export const portSchema = z.coerce.number().int().min(0).max(65535);

/** Node's longest timer: a longer delay fires after 1 ms instead (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2_147_483_647;

/** A number of milliseconds from the environment; at most MAX_TIMER_MS, since timers are set from them. */
export const millisecondsSchema = z.coerce
  .number()
  .int()
  .positive()
  .max(MAX_TIMER_MS, { error: `at most ${MAX_TIMER_MS} ms (Node's longest timer)` });

/**
 * What every HTTP process reads. Services extend it:
 * `const schema = baseConfigSchema.extend({ PORT: portSchema.default(3101), IDENTITY_DATABASE_URL: secret(z.string().url()) })`.
 */
export const baseConfigSchema = z.object({
  PORT: portSchema.default(3000),
  /** The address the HTTP port listens on; unset, every interface (a container's). `npm start` gives services 127.0.0.1. */
  HOST: z.string().trim().min(1).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** Gateway → service caller-context tokens (HS256). */
  INTERNAL_TOKEN_SECRET: secret(z.string().min(32)),
  /** How long graceful shutdown waits for in-flight requests before cutting connections. */
  SHUTDOWN_TIMEOUT_MS: millisecondsSchema.default(10_000),
});

export type BaseConfig = z.infer<typeof baseConfigSchema>;
export type LogLevel = (typeof LOG_LEVELS)[number];
