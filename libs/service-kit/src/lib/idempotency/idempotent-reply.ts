import { ConflictProblem, UnprocessableProblem } from '../problem/domain-exception';
import { IDEMPOTENT_REPLAYED_HEADER } from './idempotency-key';

/**
 * The shape of `IdempotencyOutcome` from @tessera/persistence, restated here because the kit does not depend on
 * persistence (the gateway uses the kit and has no database); the compiler checks that the two still match
 * wherever a service passes one to idempotentReply.
 */
type Outcome<T> =
  | { kind: 'performed'; status: number; body: T }
  | { kind: 'replayed'; status: number; body: unknown }
  | { kind: 'in_progress' }
  | { kind: 'key_reused' };

/** The parts of a response idempotentReply writes (Express's, with `@Res({ passthrough: true })`). */
export interface ReplyTarget {
  status(code: number): unknown;
  setHeader(name: string, value: string): unknown;
}

/**
 * Answers an idempotent create: sets the status (the stored one on a replay, with `idempotent-replayed: true`)
 * and returns the body to send; a key still running is a 409, a key used with another request a 422.
 */
export function idempotentReply<T>(res: ReplyTarget, outcome: Outcome<T>): T {
  switch (outcome.kind) {
    case 'in_progress':
      throw new ConflictProblem('A request with this Idempotency-Key is still being processed; retry later', {
        extensions: { reason: 'idempotency_key_in_progress' },
      });
    case 'key_reused':
      throw new UnprocessableProblem('This Idempotency-Key was used with a different request', {
        extensions: { reason: 'idempotency_key_reused' },
      });
    case 'replayed':
      res.status(outcome.status);
      res.setHeader(IDEMPOTENT_REPLAYED_HEADER, 'true');
      // The stored body of this route's first response.
      return outcome.body as T;
    default:
      res.status(outcome.status);
      return outcome.body;
  }
}
