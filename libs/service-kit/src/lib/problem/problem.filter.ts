import { randomUUID } from 'node:crypto';
import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import type { KitRequest, KitResponse } from '../http-types';
import { DomainException } from './domain-exception';
import {
  codeForStatus,
  PROBLEM_CONTENT_TYPE,
  problemTitle,
  problemType,
  type ProblemCode,
  type ProblemDetails,
} from './problem';

/** Errors raised by Express and body-parser carry their status (and `expose` when the message is safe). */
interface HttpLikeError {
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  type?: unknown;
  limit?: unknown;
  message?: unknown;
}

function simpleProblem(code: ProblemCode, status: number, detail?: string): ProblemDetails {
  return { type: problemType(code), title: problemTitle(code), status, code, ...(detail ? { detail } : {}) };
}

function httpExceptionDetail(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  return typeof message === 'string' ? message : exception.message;
}

function statusOf(error: HttpLikeError): number | undefined {
  const status = typeof error.status === 'number' ? error.status : error.statusCode;
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : undefined;
}

/** Maps anything thrown to a problem; undefined means an unexpected error (a 500 with an error id). */
export function toProblem(exception: unknown): ProblemDetails | undefined {
  if (exception instanceof DomainException) return exception.toProblem();
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status === 500) return undefined;
    return simpleProblem(codeForStatus(status), status, httpExceptionDetail(exception));
  }
  if (exception && typeof exception === 'object') {
    const error = exception as HttpLikeError;
    const status = statusOf(error);
    if (status === 413) {
      const limit = typeof error.limit === 'number' ? ` of ${error.limit} bytes` : '';
      return simpleProblem('payload_too_large', 413, `The request body exceeds the limit${limit}`);
    }
    if (status === 400 && error.type === 'entity.parse.failed') {
      return simpleProblem('bad_request', 400, 'The request body is not valid JSON');
    }
    if (status && status < 500) {
      const detail = error.expose === true && typeof error.message === 'string' ? error.message : undefined;
      return simpleProblem(codeForStatus(status), status, detail);
    }
    const refused = databaseRefusal(exception as { code?: unknown; driverError?: { code?: unknown } });
    if (refused) return refused;
  }
  return undefined;
}

/** SQLSTATEs of a value the database cannot hold in its column: too long, out of numeric range, not encodable. */
const VALUE_OUT_OF_RANGE = new Set(['22001', '22003', '22021', '22P05']);

/**
 * A value that passed a route's validation but that the database refuses, as a 4xx instead of a 500: the request
 * is what is wrong, and the statement changed nothing. A route's own validation should catch these first; this is
 * the net under it (e.g. a length counted in graphemes by a validator and in code points by a CHECK).
 */
function databaseRefusal(error: { code?: unknown; driverError?: { code?: unknown } }): ProblemDetails | undefined {
  const code = typeof error.code === 'string' ? error.code : error.driverError?.code;
  if (typeof code !== 'string') return undefined;
  if (VALUE_OUT_OF_RANGE.has(code)) return simpleProblem('bad_request', 400, 'A value of the request is too long or out of range for its field');
  if (code === '23514') return simpleProblem('unprocessable', 422, 'A value of the request breaks a rule of the data it would change');
  return undefined;
}

function requestPath(request: KitRequest): string {
  // The path only: a query string may carry things that should not be echoed or logged.
  return (request.originalUrl ?? request.url ?? '').split('?')[0];
}

/**
 * The global exception filter: every error becomes RFC 9457 `application/problem+json`. Unexpected errors get a
 * 500 with an `errorId` that is logged with the stack, and nothing about their cause is sent to the caller.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly fallbackLogger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    // Event handlers (microservice contexts) report errors to their transport, which decides on retries.
    if (host.getType() !== 'http') return throwError(() => exception);
    const http = host.switchToHttp();
    const request = http.getRequest<KitRequest>();
    const response = http.getResponse<KitResponse>();

    let problem = toProblem(exception);
    if (!problem) {
      const errorId = randomUUID();
      problem = { ...simpleProblem('internal', 500, 'An unexpected error occurred'), errorId };
      const err = exception instanceof Error ? exception : new Error(String(exception));
      if (request.log) request.log.error({ err, errorId }, 'Unhandled error');
      else this.fallbackLogger.error(`Unhandled error ${errorId}`, err.stack);
    }
    problem.instance = requestPath(request);
    if (request.id !== undefined) problem.requestId = String(request.id);

    if (response.headersSent) {
      // Too late for a problem document: cut the response so the client sees it failed.
      response.destroy();
      return;
    }
    response.setHeader('content-type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
    response.status(problem.status).send(JSON.stringify(problem));
  }
}
