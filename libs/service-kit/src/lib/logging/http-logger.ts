import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONTEXT_HEADER, REQUEST_ID_HEADER } from '@tessera/contracts';
import pino, { type DestinationStream, type Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import type { LogLevel } from '../config/base-config';

// A forwarded request id is echoed in logs and headers, so only short, plain values are taken over; the first
// character is a letter or digit so that an id cannot pass for an option (`--help`) or a path (`..`) where it is used.
const REQUEST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const QUIET_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

export interface ServiceLoggerOptions {
  service: string;
  level: LogLevel;
  /** Where JSON lines go; stdout by default. */
  destination?: DestinationStream;
}

/** The process's root JSON logger: ISO time, level names, credentials redacted. */
export function createServiceLogger(options: ServiceLoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["proxy-authorization"]',
          'req.headers.cookie',
          `req.headers["${CONTEXT_HEADER}"]`,
          'req.headers["x-api-key"]',
          'res.headers["set-cookie"]',
        ],
        censor: '[redacted]',
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * Takes the caller's `x-request-id` when it is sane, otherwise makes one, and echoes it in the response. The one
 * request id rule: services' request logs, the gateway's and its pipeline all use it.
 */
export function requestIdFor(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers[REQUEST_ID_HEADER];
  const id = typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/** Request logging: one line per response with request id (and tenant/user once the caller is known). */
export function createHttpLogger(logger: Logger): HttpLogger {
  return pinoHttp({
    logger,
    genReqId: requestIdFor,
    // Re-evaluated when the response is logged; identical bindings are not repeated.
    customProps: (req) => ({ requestId: String(req.id) }),
    // Method, path, status and address, not the headers: serializing and redacting every header of every request
    // was about a tenth of a service's CPU, for little an operator reads.
    serializers: {
      req: (req: { id: unknown; method: string; url: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url,
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (req, res, err) => {
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return QUIET_PATHS.has((req.url ?? '').split('?')[0]) ? 'debug' : 'info';
    },
  });
}
