import { ConflictProblem } from './domain-exception';

describe('DomainException', () => {
  it('keeps its extension members beside the standard ones', () => {
    expect(new ConflictProblem('taken', { extensions: { reason: 'slug_taken', orderStatus: 'paid' } }).toProblem()).toMatchObject({
      status: 409,
      code: 'conflict',
      reason: 'slug_taken',
      orderStatus: 'paid',
    });
  });

  it('refuses an extension named like a standard member, which the client would never see', () => {
    expect(() => new ConflictProblem('x', { extensions: { reason: 'r', status: 'cancelled' } })).toThrow(
      'problem extensions must not be named status (reserved problem members)',
    );
    expect(() => new ConflictProblem('x', { extensions: { code: 'MAIN', title: 't' } })).toThrow('must not be named title, code');
  });
});
