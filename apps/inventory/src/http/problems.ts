import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { ConflictProblem, invalidCursor, NotFoundProblem, UnprocessableProblem, type DomainException } from '@tessera/service-kit';
import { catchError, type Observable } from 'rxjs';
import { InventoryError } from '../domain';

/**
 * Domain errors → problem+json: conflict 409 (nothing changed), not_found 404, invalid 422; but a cursor naming no
 * row of the tenant is a query parameter this API did not hand out, a 400 like any other bad cursor.
 */
export function toProblem(e: InventoryError): DomainException {
  if (e.code === 'invalid_cursor') return invalidCursor();
  const options = { extensions: { reason: e.code, ...(e.details ?? {}) } };
  switch (e.kind) {
    case 'conflict':
      return new ConflictProblem(e.message, options);
    case 'not_found':
      return new NotFoundProblem(e.message, options);
    default:
      return new UnprocessableProblem(e.message, options);
  }
}

@Injectable()
export class InventoryErrorInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((e: unknown) => {
        throw e instanceof InventoryError ? toProblem(e) : e;
      }),
    );
  }
}
