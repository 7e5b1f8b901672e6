import type { IncomingMessage } from 'node:http';

/**
 * The client's address as the gateway saw it. Requests only reach identity with a gateway-signed caller context,
 * and the gateway sets `x-forwarded-for` to the address it accepted the connection from, so its first entry is
 * trusted here; without it (direct calls in tests) the socket address is used.
 */
export function clientAddress(req: IncomingMessage): string {
  const header = req.headers['x-forwarded-for'];
  const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
  return first || req.socket.remoteAddress || 'unknown';
}
