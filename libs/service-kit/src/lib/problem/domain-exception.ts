import { HttpException } from '@nestjs/common';
import {
  PROBLEM_STATUS,
  problemTitle,
  problemType,
  type FieldError,
  type ProblemCode,
  type ProblemDetails,
} from './problem';

export interface DomainExceptionOptions {
  /** Overrides the standard title of the code. */
  title?: string;
  errors?: FieldError[];
  /**
   * Extra problem members, e.g. `{ reason: 'slug_taken' }`; they must not hold secrets, nor use a name RFC 9457 or
   * this kit gives the problem itself (RESERVED_MEMBERS), which would silently lose to it.
   */
  extensions?: Record<string, unknown>;
  cause?: unknown;
}

/** The members of every problem body: an extension of one of these names would be overwritten by it. */
export const RESERVED_MEMBERS = ['type', 'title', 'status', 'detail', 'instance', 'code', 'errors', 'requestId', 'errorId'] as const;

/**
 * An expected failure of the domain, answered as problem+json with the status of its code. Throw it (or one of
 * the helpers below) from services and controllers; anything else that escapes becomes a logged 500.
 * It extends HttpException so that Nest code that knows nothing of problem+json still sees the right status.
 */
export class DomainException extends HttpException {
  readonly code: ProblemCode;
  readonly problemTitle: string;
  readonly errors?: FieldError[];
  readonly extensions: Record<string, unknown>;

  constructor(code: ProblemCode, detail?: string, options: DomainExceptionOptions = {}) {
    const status = PROBLEM_STATUS[code];
    super(detail ?? problemTitle(code), status, { cause: options.cause });
    this.name = 'DomainException';
    this.code = code;
    this.problemTitle = options.title ?? problemTitle(code);
    this.errors = options.errors;
    this.extensions = options.extensions ?? {};
    const clash = RESERVED_MEMBERS.filter((m) => m in this.extensions);
    // A programming error, caught by any test that reaches the throw: the member would never reach the client.
    if (clash.length > 0) throw new Error(`problem extensions must not be named ${clash.join(', ')} (reserved problem members)`);
  }

  get detail(): string {
    return this.message;
  }

  /** The problem body, without `instance` and `requestId`, which the filter adds per request. */
  toProblem(): ProblemDetails {
    return {
      ...this.extensions,
      type: problemType(this.code),
      title: this.problemTitle,
      status: this.getStatus(),
      detail: this.message,
      code: this.code,
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export class BadRequestProblem extends DomainException {
  constructor(detail?: string, options?: DomainExceptionOptions) {
    super('bad_request', detail, options);
  }
}

export class ValidationProblem extends DomainException {
  constructor(errors: FieldError[], detail = 'The request is invalid.') {
    super('validation_failed', detail, { errors });
  }
}

export class UnauthorizedProblem extends DomainException {
  constructor(detail?: string, options?: DomainExceptionOptions) {
    super('unauthorized', detail, options);
  }
}

export class ForbiddenProblem extends DomainException {
  constructor(detail?: string, options?: DomainExceptionOptions) {
    super('forbidden', detail, options);
  }
}

export class NotFoundProblem extends DomainException {
  constructor(detail?: string, options?: DomainExceptionOptions) {
    super('not_found', detail, options);
  }
}

export class ConflictProblem extends DomainException {
  constructor(detail?: string, options?: DomainExceptionOptions) {
    super('conflict', detail, options);
  }
}

export class PreconditionFailedProblem extends DomainException {
  constructor(detail?: string, options?: DomainExceptionOptions) {
    super('precondition_failed', detail, options);
  }
}

export class UnprocessableProblem extends DomainException {
  constructor(detail?: string, options?: DomainExceptionOptions) {
    super('unprocessable', detail, options);
  }
}

export class ServiceUnavailableProblem extends DomainException {
  constructor(detail?: string, options?: DomainExceptionOptions) {
    super('service_unavailable', detail, options);
  }
}
