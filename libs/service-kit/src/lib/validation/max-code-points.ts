import { ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * At most `max` Unicode code points, which is what PostgreSQL's `length()` counts in a column's CHECK. class-validator's
 * MaxLength does not: it does not count variation selectors (U+FE0E, U+FE0F), so "❤️" is 1 to it and 2 to the CHECK,
 * and a string it passes could still break the CHECK.
 */
export function MaxCodePoints(max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'maxCodePoints',
      constraints: [max],
      validator: {
        validate: (value: unknown) => typeof value === 'string' && [...value].length <= max,
        defaultMessage: (args) => `${args?.property ?? 'value'} must be at most ${max} characters`,
      },
    },
    options,
  );
}
