import { z } from 'zod';

/** Thrown at start when the environment does not satisfy the service's schema; names every bad variable. */
export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigurationError';
  }
}

function describeIssue(issue: z.core.$ZodIssue, env: Record<string, string | undefined>): string {
  const name = issue.path.map(String).join('.') || '(environment)';
  const missing = issue.path.length === 1 && env[String(issue.path[0])] === undefined;
  // Zod's messages never include the received value, so a secret cannot leak through this error.
  const reason = issue.message.replace(/^Invalid input: /, '');
  return missing ? `${name}: is required (${reason})` : `${name}: ${reason}`;
}

/**
 * Parses the environment with a zod schema, once at start. Empty variables count as unset, so `FOO=` falls back
 * to the default. On failure the error message lists every bad variable and why, e.g.
 * `Invalid configuration: PORT: expected number, received NaN`.
 */
export function loadConfig<T extends z.ZodTypeAny>(
  schema: T,
  env: Record<string, string | undefined> = process.env,
): z.infer<T> {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigurationError(result.error.issues.map((issue) => describeIssue(issue, cleaned)));
  }
  return result.data;
}
