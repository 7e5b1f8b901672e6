import { applyDecorators, BadRequestException, ParseUUIDPipe, type ArgumentMetadata } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsUUID, type ValidationOptions } from 'class-validator';
import { BadRequestProblem } from '../problem/domain-exception';

// A UUID may arrive in upper case: PostgreSQL's uuid type finds the same row, but a string comparison in code (is
// this the caller's own id?) or an id copied into a response, an event or a partition key would not match the stored,
// lower-case one. Both of these hand the code the canonical form.

/**
 * `@Param('id', UuidParamPipe)`: a 400 problem naming the parameter unless the segment is a UUID (Nest's own says
 * only "Validation failed (uuid is expected)"); the UUID in lower case.
 */
export class UuidParamPipe extends ParseUUIDPipe {
  override async transform(value: string, metadata: ArgumentMetadata) {
    let valid: string | null | undefined;
    try {
      valid = await super.transform(value, metadata);
    } catch (error) {
      if (!(error instanceof BadRequestException)) throw error;
      throw new BadRequestProblem(`path parameter ${metadata.data ?? 'id'} must be a UUID`);
    }
    // Nothing to lower-case only for an optional parameter that is absent.
    return valid?.toLowerCase();
  }
}

/** A UUID field of a DTO, in lower case after validation (`IsUUID` accepts either case). */
export function IsUuid(options?: ValidationOptions): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value)),
    IsUUID(undefined, options),
  );
}
