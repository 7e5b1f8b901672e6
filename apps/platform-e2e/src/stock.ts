import { eventually, type ApiResponse, type client } from './platform';

/**
 * Receives stock through the gateway, for a SKU the catalog may have created a moment ago: inventory learns SKUs
 * from catalog events, and answers 422 `unknown_sku` (changing nothing) until the variant's event has arrived.
 * Retries that refusal only; resolves with the first other answer.
 */
export function receiveStock(
  api: ReturnType<typeof client>,
  token: string,
  movement: { sku: string; locationId: string; quantity: number },
  timeoutMs = 30_000,
): Promise<ApiResponse> {
  return eventually(
    async () => {
      const res = await api('POST', '/v1/inventory/movements', { token, body: { type: 'receive', ...movement } });
      return res.status === 422 && res.body?.reason === 'unknown_sku' ? undefined : res;
    },
    `inventory to know ${movement.sku} from the catalog's events`,
    timeoutMs,
  );
}
