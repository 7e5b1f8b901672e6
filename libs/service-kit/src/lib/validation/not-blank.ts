import { Matches, type ValidationOptions } from 'class-validator';

/** A string with at least one character that is not white space: a name of only spaces names nothing. */
export function NotBlank(options?: ValidationOptions): PropertyDecorator {
  return Matches(/\S/, { message: ({ property }) => `${property} must not be blank`, ...options });
}
