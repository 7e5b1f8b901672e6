import type { IncomingMessage, ServerResponse } from 'node:http';
// `id` and `log` come from pino-http's augmentation of IncomingMessage.
import type {} from 'pino-http';

/** The parts of Express's request the gateway reads (the workspace has no @types/express). */
export interface ExpressRequest extends IncomingMessage {
  /** Path without the query string. */
  path: string;
  originalUrl: string;
  /** Client address, honouring `trust proxy`. */
  ip?: string;
  protocol: string;
  baseUrl: string;
  route?: { path?: unknown };
}

export interface ExpressResponse extends ServerResponse {
  json(body: unknown): this;
}

export type NextFunction = (error?: unknown) => void;
