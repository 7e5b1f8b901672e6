import { plainToInstance } from 'class-transformer';
import { IsOptional, validate } from 'class-validator';
import { BadRequestProblem } from '../problem/domain-exception';
import { IsUuid, UuidParamPipe } from './uuid';

class WithUuid {
  @IsOptional()
  @IsUuid()
  id?: string | null;
}

const UPPER = '3F2C5E1A-9B7D-4C8E-A1F0-0D9E8C7B6A54';

describe('UUIDs in lower case', () => {
  it('UuidParamPipe answers the UUID in lower case and refuses what is not one with a 400', async () => {
    const pipe = new UuidParamPipe();
    const meta = { type: 'param' as const, data: 'id' };
    await expect(pipe.transform(UPPER, meta)).resolves.toBe(UPPER.toLowerCase());
    await expect(pipe.transform(UPPER.toLowerCase(), meta)).resolves.toBe(UPPER.toLowerCase());
    for (const bad of ['nope', `${UPPER}x`, '']) {
      const refused = pipe.transform(bad, meta);
      await expect(refused).rejects.toBeInstanceOf(BadRequestProblem);
      // The problem names the parameter (Nest's own detail does not).
      await expect(refused).rejects.toMatchObject({ message: 'path parameter id must be a UUID' });
    }
    await expect(pipe.transform('nope', { type: 'param', data: 'locationId' })).rejects.toMatchObject({ message: 'path parameter locationId must be a UUID' });
  });

  it('IsUuid validates a DTO field and hands it on in lower case; other types are still refused', async () => {
    const dto = plainToInstance(WithUuid, { id: UPPER });
    expect(await validate(dto)).toEqual([]);
    expect(dto.id).toBe(UPPER.toLowerCase());
    for (const bad of ['nope', 12, ['a'], {}]) {
      const errors = await validate(plainToInstance(WithUuid, { id: bad }));
      expect([bad, errors.map((e) => e.property)]).toEqual([bad, ['id']]);
    }
    const cleared = plainToInstance(WithUuid, { id: null });
    expect(await validate(cleared)).toEqual([]);
    expect(cleared.id).toBeNull();
  });
});
