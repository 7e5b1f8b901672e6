import { toProblem } from './problem.filter';

describe('toProblem: values the database refuses', () => {
  // As TypeORM throws them (QueryFailedError carries the driver's error) and as node-postgres does.
  const typeorm = (code: string) => Object.assign(new Error('query failed'), { driverError: { code } });
  const pg = (code: string) => Object.assign(new Error('db error'), { code });

  it.each(['22001', '22003', '22021', '22P05'])('answers SQLSTATE %s (value too long, out of range, not encodable) with 400', (code) => {
    for (const error of [typeorm(code), pg(code)]) expect(toProblem(error)).toMatchObject({ status: 400, code: 'bad_request' });
  });

  it('answers a broken CHECK constraint (23514) with 422', () => {
    for (const error of [typeorm('23514'), pg('23514')]) expect(toProblem(error)).toMatchObject({ status: 422, code: 'unprocessable' });
  });

  it('leaves every other database error unexpected (a 500 with an error id)', () => {
    for (const code of ['23505', '40P01', '57014', '08006']) expect([code, toProblem(typeorm(code))]).toEqual([code, undefined]);
    expect(toProblem(new Error('plain'))).toBeUndefined();
  });
});
