import { CONTEXT_HEADER } from '@tessera/contracts';
import { randomUUID } from 'node:crypto';
import type { Upstream } from '../proxy/route-table';
import { anonymousContext, type ServiceContextSigner } from '../auth/caller-context-signer';
import { mergeOpenApi, type OpenApiDocument, type ServiceDocument } from './merge-openapi';

const FETCH_TIMEOUT_MS = 3_000;
const INFO = { title: 'Tessera API', version: '1' };
// While a service is missing from the document, look for it again sooner than the normal refresh.
const INCOMPLETE_RETRY_MS = 5_000;

/**
 * Fetches every upstream's /openapi.json and keeps the merged document. It refreshes lazily: a request after
 * `refreshMs` (5 s while a service is missing) gets the current document at once while a refresh runs in the
 * background; only the very first request waits for the fetch.
 * A service that does not answer is omitted and named in `info.description`.
 */
export class OpenApiAggregator {
  private merged?: OpenApiDocument;
  private refreshedAt = 0;
  private incomplete = false;
  private refreshing?: Promise<OpenApiDocument>;

  constructor(
    private readonly upstreams: readonly Upstream[],
    private readonly signContext: ServiceContextSigner,
    private readonly refreshMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async document(): Promise<OpenApiDocument> {
    const maxAge = this.incomplete ? Math.min(this.refreshMs, INCOMPLETE_RETRY_MS) : this.refreshMs;
    const stale = this.now() - this.refreshedAt >= maxAge;
    if (this.merged && !stale) return this.merged;
    const refresh = this.refresh();
    return this.merged ?? refresh;
  }

  /** Never rejects: fetch failures are per service, and a document that cannot be merged leaves the previous one. */
  refresh(): Promise<OpenApiDocument> {
    this.refreshing ??= this.fetchAll()
      .then((services) => {
        this.incomplete = services.some((service) => !service.document);
        this.merged = mergeOpenApi(services, INFO);
        return this.merged;
      })
      .catch((error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        return this.merged ?? mergeOpenApi(this.upstreams.map((u) => ({ service: u.name, prefixes: u.prefixes, error: reason })), INFO);
      })
      .finally(() => {
        this.refreshedAt = this.now();
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private fetchAll(): Promise<ServiceDocument[]> {
    return Promise.all(this.upstreams.map((upstream) => this.fetchOne(upstream)));
  }

  private async fetchOne(upstream: Upstream): Promise<ServiceDocument> {
    const base = { service: upstream.name, prefixes: upstream.prefixes };
    try {
      const response = await fetch(`${upstream.url}/openapi.json`, {
        headers: { accept: 'application/json', [CONTEXT_HEADER]: await this.signContext(anonymousContext(randomUUID()), upstream.name) },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return { ...base, error: `HTTP ${response.status}` };
      }
      const document = (await response.json()) as OpenApiDocument;
      if (typeof document !== 'object' || document === null || typeof document.paths !== 'object') {
        return { ...base, error: 'not an OpenAPI document' };
      }
      return { ...base, document };
    } catch (error) {
      return { ...base, error: describeFetchError(error) };
    }
  }
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
  return cause?.code ?? (error instanceof Error ? error.message : 'unreachable');
}
