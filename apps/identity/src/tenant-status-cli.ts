/**
 * The platform operator's tool for a tenant's status: calls identity's internal
 * `PUT /internal/tenants/{id}/status` directly (never through the gateway, which hides `/internal`), with the
 * internal credential: a tenant-less caller context signed with identity's own key, derived from the platform's
 * INTERNAL_TOKEN_SECRET (service-kit `serviceKey`, `callInternal`).
 *
 *   npx nx run identity:tenant-status --args="<tenant id> <trial|active|suspended> <reason...>"
 *
 * Environment: IDENTITY_URL (default http://127.0.0.1:$IDENTITY_PORT, port 3101 when unset); INTERNAL_TOKEN_SECRET (the platform's, as the gateway's), else the embedded default's
 * `$TESSERA_DATA_DIR/secrets.json` (default `.data`). Prints identity's answer; exits 1 unless it is a 2xx.
 */
import { callInternal, printAnswer, runOperatorTool, serviceKey, serviceUrl, type InternalAnswer } from '@tessera/service-kit';

export const IDENTITY_DEFAULT_PORT = 3101;

export interface TenantStatusRequest {
  identityUrl: string;
  /** The variable identityUrl came from, named should identity be unreachable. */
  urlVariable?: string;
  internalTokenSecret: string;
  tenantId: string;
  status: string;
  reason: string;
}

/** Sends the status change; returns identity's HTTP status and parsed body (problem+json on refusal). */
export function requestTenantStatus(req: TenantStatusRequest): Promise<InternalAnswer> {
  return callInternal({
    baseUrl: req.identityUrl,
    urlVariable: req.urlVariable,
    internalTokenSecret: req.internalTokenSecret,
    method: 'PUT',
    path: `/internal/tenants/${encodeURIComponent(req.tenantId)}/status`,
    body: { status: req.status, reason: req.reason },
  });
}

async function main(argv: string[]): Promise<number> {
  const [tenantId, status, ...reasonWords] = argv;
  const reason = reasonWords.join(' ');
  if (!tenantId || !status || !reason) {
    process.stderr.write('usage: tenant-status <tenant id> <trial|active|suspended> <reason...>\n');
    return 2;
  }
  const { url, variable } = serviceUrl('identity', IDENTITY_DEFAULT_PORT);
  return printAnswer(
    await requestTenantStatus({
      identityUrl: url,
      urlVariable: variable,
      internalTokenSecret: serviceKey('identity', process.env),
      tenantId,
      status,
      reason,
    }),
  );
}

if (require.main === module) runOperatorTool('tenant-status', main);
