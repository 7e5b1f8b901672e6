import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONTEXT_HEADER, REQUEST_ID_HEADER } from '@tessera/contracts';
import { serviceContextKey, signCallerContext } from '../caller/caller-token';

/** One call of a service's `/internal/...` route, as the platform operator's tools make it. */
export interface InternalCall {
  /** The service's own URL (never the gateway's, which answers 404 to `/internal`). */
  baseUrl: string;
  /** The called service's own key (serviceContextKey of the platform's secret, as `serviceKey` finds it). */
  internalTokenSecret: string;
  method: 'GET' | 'POST' | 'PUT';
  /** Starts with `/internal/`; path parameters already encoded. */
  path: string;
  body?: unknown;
  /** Default 10 s; long operator jobs (a republish) pass more. */
  timeoutMs?: number;
  /** The variable `baseUrl` came from, named when the service cannot be reached. */
  urlVariable?: string;
}

export interface InternalAnswer {
  status: number;
  /** The parsed JSON answer (problem+json on refusal), else its text. */
  body: unknown;
}

/**
 * A service's own URL for the operator's tools: `<SERVICE>_URL`, else the loopback at `<SERVICE>_PORT` (where
 * `npm start` lets it listen), else at `defaultPort`. Also returns the variable to name when it cannot be reached.
 */
export function serviceUrl(service: string, defaultPort: number, env: NodeJS.ProcessEnv = process.env): { url: string; variable: string } {
  const name = service.toUpperCase();
  const url = env[`${name}_URL`];
  if (url) return { url, variable: `${name}_URL` };
  return { url: `http://127.0.0.1:${env[`${name}_PORT`] || defaultPort}`, variable: `${name}_URL (or ${name}_PORT)` };
}

/** Sends `call` with the internal credential: a caller context that names no tenant and no principal. */
export async function callInternal(call: InternalCall): Promise<InternalAnswer> {
  const requestId = randomUUID();
  const context = await signCallerContext(
    { requestId, principalType: 'internal', roles: [], scopes: [] },
    call.internalTokenSecret,
  );
  const headers: Record<string, string> = { [CONTEXT_HEADER]: context, [REQUEST_ID_HEADER]: requestId };
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  const base = call.baseUrl.replace(/\/+$/, '');
  const timeoutMs = call.timeoutMs ?? 10_000;
  const response = await fetch(`${base}${call.path}`, {
    method: call.method,
    headers,
    body: call.body === undefined ? undefined : JSON.stringify(call.body),
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((error: unknown) => {
    // Read by shape: fetch's errors may come from another realm (a test runner's), where instanceof fails.
    const failure = error as { name?: unknown; cause?: unknown } | null;
    if (failure?.name === 'TimeoutError') {
      // Reached, perhaps still working: not a reason to look for the service elsewhere, nor to run the job again blindly.
      throw new Error(`${base} did not answer within ${timeoutMs} ms; the work may still be running there`);
    }
    // fetch says only "fetch failed": name the address tried and why it failed.
    const cause = (failure?.cause ?? error) as { code?: unknown; message?: unknown } | null;
    const why = String(cause?.code ?? cause?.message ?? cause);
    throw new Error(`cannot reach ${base} (${why})${call.urlVariable ? `: is the service running there? ${call.urlVariable} sets its URL` : ''}`);
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body };
}

/**
 * The platform's INTERNAL_TOKEN_SECRET (the gateway's, not a service's own key) from the environment, else the one
 * `npm start` generated into `$TESSERA_DATA_DIR/secrets.json` (default `.data`).
 */
export function internalTokenSecret(env: NodeJS.ProcessEnv = process.env): string {
  if (env['INTERNAL_TOKEN_SECRET']) return env['INTERNAL_TOKEN_SECRET'];
  const file = path.join(env['TESSERA_DATA_DIR'] || '.data', 'secrets.json');
  try {
    const secret = (JSON.parse(readFileSync(file, 'utf8')) as { INTERNAL_TOKEN_SECRET?: string }).INTERNAL_TOKEN_SECRET;
    if (secret) return secret;
  } catch {
    // fall through
  }
  throw new Error(`INTERNAL_TOKEN_SECRET is not set and ${file} has none`);
}

/** The key an operator's tool signs its calls to `service` with: that service's own, from the platform's secret. */
export function serviceKey(service: string, env: NodeJS.ProcessEnv = process.env): string {
  return serviceContextKey(internalTokenSecret(env), service);
}

/**
 * Runs an operator tool's `main` (its arguments, without node and the script) and exits with its code: 2 for a
 * usage error, else 0 for a 2xx answer and 1 for anything else (see `printAnswer`), 1 if it throws.
 */
export function runOperatorTool(name: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}

/** Prints the service's answer (`<status> <json>`); the exit code: 0 for a 2xx, else 1. */
export function printAnswer(answer: InternalAnswer): number {
  process.stdout.write(`${answer.status} ${JSON.stringify(answer.body, null, 2)}\n`);
  return answer.status >= 200 && answer.status < 300 ? 0 : 1;
}
