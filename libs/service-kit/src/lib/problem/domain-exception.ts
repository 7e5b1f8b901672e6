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
  /** Extra problem members, e.g. `{ reason: 'slug_taken' }`; they must not hold secrets. */
  extensions?: Record<string, unknown>;
  cause?: unknown;
}

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
