import type { ServerResponse } from 'node:http';
import { codeForStatus, PROBLEM_CONTENT_TYPE, problemTitle, problemType, type ProblemDetails } from '@tessera/service-kit';

export interface GatewayProblem {
  status: number;
  /** Defaults to the standard title of the status. */
  title?: string;
  detail?: string;
  /** Extra response headers, e.g. Retry-After or WWW-Authenticate. */
  headers?: Record<string, string>;
  /** On 500: the id under which the error was logged. */
  errorId?: string;
  /** A machine-readable reason, as services' problems carry (e.g. `role_changed`). */
  reason?: string;
}

/**
 * An error the gateway answers itself (auth, limits, upstream failures). It is written directly to the
 * response because proxied requests never reach Nest's exception filters.
 */
export class GatewayError extends Error {
  constructor(readonly problem: GatewayProblem) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
  }
}

/** The same RFC 9457 document as service-kit's ProblemFilter writes. */
export function problemBody(problem: GatewayProblem, instance?: string, requestId?: string): string {
  const code = codeForStatus(problem.status);
  const details: ProblemDetails = {
    type: problemType(code),
    title: problem.title ?? problemTitle(code),
    status: problem.status,
    code,
    ...(problem.detail ? { detail: problem.detail } : {}),
    ...(instance ? { instance } : {}),
    ...(requestId ? { requestId } : {}),
    ...(problem.errorId ? { errorId: problem.errorId } : {}),
    ...(problem.reason ? { reason: problem.reason } : {}),
  };
  return JSON.stringify(details);
}

/** Writes problemBody as the response; a no-op once the response has started. */
export function sendProblem(res: ServerResponse, problem: GatewayProblem, instance?: string, requestId?: string): void {
  if (res.headersSent || res.writableEnded) return;
  const body = problemBody(problem, instance, requestId);
  for (const [name, value] of Object.entries(problem.headers ?? {})) res.setHeader(name, value);
  res.statusCode = problem.status;
  res.setHeader('content-type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}
