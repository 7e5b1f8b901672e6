import { CONTEXT_HEADER, type CallerContext } from '@tessera/contracts';
import type { KitRequest, KitResponse, NextFunction } from '../http-types';
import { runWithCaller } from './caller-storage';
import { CallerTokenError, verifyCallerContext } from './caller-token';

/** The caller's identity as log fields; never the roles or the token. */
export function callerLogBindings(caller: CallerContext): Record<string, string> {
  const bindings: Record<string, string> = { principalType: caller.principalType };
  if (caller.tenantId) bindings['tenantId'] = caller.tenantId;
  if (caller.principalType === 'user' && caller.principalId) bindings['userId'] = caller.principalId;
  if (caller.principalType === 'api_key' && caller.principalId) bindings['apiKeyId'] = caller.principalId;
  return bindings;
}

/**
 * Verifies `x-tessera-context` once per request, records the outcome on the request for the guard, adds tenant
 * and user to the request's logger, and runs the rest of the request with the caller in AsyncLocalStorage.
 * Refusing is the guard's job, so health and metrics still work without a token.
 */
export function createCallerContextMiddleware(secret: string) {
  return (req: KitRequest, _res: KitResponse, next: NextFunction): void => {
    const header = req.headers[CONTEXT_HEADER];
    if (header === undefined) {
      req.tesseraCallerError = new CallerTokenError('missing', 'The caller context is missing');
      next();
      return;
    }
    // Node joins repeated custom headers with ", ", which never verifies: a duplicate header is refused.
    verifyCallerContext(String(header), secret).then(
      (caller) => {
        req.tesseraCaller = caller;
        req.log?.setBindings(callerLogBindings(caller));
        runWithCaller(caller, () => next());
      },
      (error: unknown) => {
        req.tesseraCallerError =
          error instanceof CallerTokenError ? error : new CallerTokenError('invalid', 'The caller context is invalid');
        next();
      },
    );
  };
}
