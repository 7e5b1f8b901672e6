import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallerContext } from '@tessera/contracts';
import type { CallerTokenError } from './caller/caller-token';

/**
 * The parts of an Express request the kit reads (the kit does not depend on @types/express). pino-http declares
 * `id` and `log` on IncomingMessage; they are absent only before its middleware ran.
 */
export interface KitRequest extends IncomingMessage {
  originalUrl?: string;
  baseUrl?: string;
  route?: { path?: unknown };
  body?: unknown;
  /** The verified caller context, set by the caller-context middleware. */
  tesseraCaller?: CallerContext;
  /** Why the caller context was refused, when it was. */
  tesseraCallerError?: CallerTokenError;
}

export interface KitResponse extends ServerResponse {
  status(code: number): this;
  send(body?: unknown): this;
}

export type NextFunction = (error?: unknown) => void;
