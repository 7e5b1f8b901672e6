/** The machine-readable problem codes and the HTTP status each maps to. */
export const PROBLEM_STATUS = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  not_acceptable: 406,
  request_timeout: 408,
  conflict: 409,
  gone: 410,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  too_many_requests: 429,
  internal: 500,
  not_implemented: 501,
  bad_gateway: 502,
  service_unavailable: 503,
  gateway_timeout: 504,
} as const;

export type ProblemCode = keyof typeof PROBLEM_STATUS;

const TITLES: Record<ProblemCode, string> = {
  bad_request: 'Bad Request',
  validation_failed: 'Validation Failed',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  not_found: 'Not Found',
  method_not_allowed: 'Method Not Allowed',
  not_acceptable: 'Not Acceptable',
  request_timeout: 'Request Timeout',
  conflict: 'Conflict',
  gone: 'Gone',
  precondition_failed: 'Precondition Failed',
  payload_too_large: 'Payload Too Large',
  unsupported_media_type: 'Unsupported Media Type',
  unprocessable: 'Unprocessable Content',
  too_many_requests: 'Too Many Requests',
  internal: 'Internal Server Error',
  not_implemented: 'Not Implemented',
  bad_gateway: 'Bad Gateway',
  service_unavailable: 'Service Unavailable',
  gateway_timeout: 'Gateway Timeout',
};

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const PROBLEM_TYPE_BASE = 'https://tessera.dev/problems/';

/** One invalid field: `field` is the dotted path, `pointer` the JSON Pointer into the validated input. */
export interface FieldError {
  field: string;
  pointer: string;
  detail: string;
}

/** RFC 9457 problem details, plus Tessera's extension members. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Stable machine-readable code (extension member). */
  code: ProblemCode;
  /** Field errors of a validation problem. */
  errors?: FieldError[];
  /** On 5xx: the id under which the error was logged. */
  errorId?: string;
  requestId?: string;
  [extension: string]: unknown;
}

export function problemType(code: ProblemCode): string {
  return PROBLEM_TYPE_BASE + code.replace(/_/g, '-');
}

export function problemTitle(code: ProblemCode): string {
  return TITLES[code];
}

/** The problem code for an HTTP status, for errors that arrive as plain statuses (Nest, body-parser). */
export function codeForStatus(status: number): ProblemCode {
  const exact = (Object.keys(PROBLEM_STATUS) as ProblemCode[]).find(
    (code) => PROBLEM_STATUS[code] === status && code !== 'validation_failed',
  );
  if (exact) return exact;
  return status >= 500 ? 'internal' : 'bad_request';
}
