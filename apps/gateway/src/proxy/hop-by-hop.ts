import type { IncomingHttpHeaders } from 'node:http';

// RFC 9110 §7.6.1: these describe one connection and must not be passed on to the next.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade'];
// Never removed for being named in `Connection`: Node and http-proxy frame the body from the first two, and route by host.
const KEPT = new Set(['content-length', 'transfer-encoding', 'host']);

/** Deletes the headers that concern only the connection they came on: the RFC's and every one `Connection` names. */
export function stripHopByHop(headers: IncomingHttpHeaders): void {
  const named = (headers.connection ?? '').split(',').map((token) => token.trim().toLowerCase());
  for (const name of [...HOP_BY_HOP, ...named]) {
    if (name && !KEPT.has(name)) delete headers[name];
  }
}
