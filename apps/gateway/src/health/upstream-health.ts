import type { Upstream } from '../proxy/route-table';

export interface UpstreamReachability {
  status: 'up' | 'down';
  detail?: string;
}

const PROBE_TIMEOUT_MS = 1_000;

/** Asks each upstream's /health/live; informational only, the gateway is ready without them. */
export async function probeUpstreams(upstreams: readonly Upstream[]): Promise<Record<string, UpstreamReachability>> {
  const entries = await Promise.all(
    upstreams.map(async (upstream): Promise<[string, UpstreamReachability]> => {
      try {
        const response = await fetch(`${upstream.url}/health/live`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
        await response.body?.cancel();
        return [upstream.name, response.ok ? { status: 'up' } : { status: 'down', detail: `HTTP ${response.status}` }];
      } catch (error) {
        const code = (error as { cause?: { code?: string } }).cause?.code;
        return [upstream.name, { status: 'down', detail: code ?? (error as Error).name }];
      }
    }),
  );
  return Object.fromEntries(entries);
}
