import { ValidationPipe, type PipeTransform, type ValidationError } from '@nestjs/common';
import { ValidationProblem } from './domain-exception';
import type { FieldError } from './problem';

/** The RFC 6901 JSON pointer (as a URI fragment) of a field's path: `~` and `/` in a key escaped. */
export function jsonPointer(path: string[]): string {
  return '#/' + path.map((part) => part.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

/** The most field errors one problem lists: enough to fix any real request, small enough to send for any body. */
const MAX_FIELD_ERRORS = 100;

/** Flattens class-validator's nested errors into one entry per failed constraint, the first MAX_FIELD_ERRORS of them. */
export function toFieldErrors(errors: ValidationError[]): FieldError[] {
  const out: FieldError[] = [];
  collectFieldErrors(errors, [], out);
  return out;
}

function collectFieldErrors(errors: ValidationError[], parent: string[], out: FieldError[]): void {
  for (const error of errors) {
    if (out.length >= MAX_FIELD_ERRORS) return;
    const path = error.property ? [...parent, error.property] : parent;
    for (const message of Object.values(error.constraints ?? {})) {
      if (out.length >= MAX_FIELD_ERRORS) return;
      out.push({ field: path.join('.'), pointer: jsonPointer(path), detail: message });
    }
    if (error.children?.length) collectFieldErrors(error.children, path, out);
  }
}

/** The global pipe: unknown fields are refused, payloads are turned into DTO instances, errors become problems. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new ValidationProblem(toFieldErrors(errors)),
  });
}

/**
 * For actions that take no request body (`POST /v1/payments/{id}/confirm`): a body with any field is refused as an
 * unknown field would be on any other route, rather than silently ignored. `@Body(NoBodyPipe) _: unknown`.
 */
export class NoBodyPipe implements PipeTransform {
  transform(value: unknown): undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'object' && !Array.isArray(value)) {
      const fields = Object.keys(value);
      if (fields.length === 0) return undefined;
      throw new ValidationProblem(fields.map((f) => ({ field: f, pointer: jsonPointer([f]), detail: `property ${f} should not exist` })));
    }
    throw new ValidationProblem([{ field: '', pointer: '#', detail: 'this action takes no request body' }]);
  }
}
