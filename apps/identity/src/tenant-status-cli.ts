/**
 * The platform operator's tool for a tenant's status: calls identity's internal
 * `PUT /internal/tenants/{id}/status` directly (never through the gateway, which hides `/internal`), with the
 * internal credential: a tenant-less caller context signed with INTERNAL_TOKEN_SECRET.
 *
 *   npx nx run identity:tenant-status --args="<tenant id> <trial|active|suspended> <reason...>"
 *
 * Environment: IDENTITY_URL (default http://127.0.0.1:3101); INTERNAL_TOKEN_SECRET, else the embedded default's
 * `$TESSERA_DATA_DIR/secrets.json` (default `.data`). Prints identity's answer; exits 1 unless it is a 2xx.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONTEXT_HEADER, REQUEST_ID_HEADER } from '@tessera/contracts';
import { signCallerContext } from '@tessera/service-kit';

export interface TenantStatusRequest {
  identityUrl: string;
  internalTokenSecret: string;
  tenantId: string;
  status: string;
  reason: string;
}

/** Sends the status change; returns identity's HTTP status and parsed body (problem+json on refusal). */
export async function requestTenantStatus(req: TenantStatusRequest): Promise<{ status: number; body: unknown }> {
  const requestId = randomUUID();
  const context = await signCallerContext(
    { requestId, principalType: 'anonymous', roles: [], scopes: [] },
    req.internalTokenSecret,
  );
  const url = `${req.identityUrl.replace(/\/+$/, '')}/internal/tenants/${encodeURIComponent(req.tenantId)}/status`;
  const response = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', [CONTEXT_HEADER]: context, [REQUEST_ID_HEADER]: requestId },
    body: JSON.stringify({ status: req.status, reason: req.reason }),
    signal: AbortSignal.timeout(10_000),
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

function internalSecret(env: NodeJS.ProcessEnv): string {
  if (env['INTERNAL_TOKEN_SECRET']) return env['INTERNAL_TOKEN_SECRET'];
  const file = path.join(env['TESSERA_DATA_DIR'] ?? '.data', 'secrets.json');
  try {
    const secret = (JSON.parse(readFileSync(file, 'utf8')) as { INTERNAL_TOKEN_SECRET?: string }).INTERNAL_TOKEN_SECRET;
    if (secret) return secret;
  } catch {
    // fall through
  }
  throw new Error(`INTERNAL_TOKEN_SECRET is not set and ${file} has none`);
}

async function main(argv: string[]): Promise<number> {
  const [tenantId, status, ...reasonWords] = argv;
  const reason = reasonWords.join(' ');
  if (!tenantId || !status || !reason) {
    process.stderr.write('usage: tenant-status <tenant id> <trial|active|suspended> <reason...>\n');
    return 2;
  }
  const result = await requestTenantStatus({
    identityUrl: process.env['IDENTITY_URL'] ?? 'http://127.0.0.1:3101',
    internalTokenSecret: internalSecret(process.env),
    tenantId,
    status,
    reason,
  });
  process.stdout.write(`${result.status} ${JSON.stringify(result.body, null, 2)}\n`);
  return result.status >= 200 && result.status < 300 ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`tenant-status failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
