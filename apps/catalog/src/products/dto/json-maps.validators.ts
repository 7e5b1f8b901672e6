import { registerDecorator, type ValidationOptions } from 'class-validator';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const ATTRIBUTE_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const MAX_ATTRIBUTES = 50;
const MAX_ATTRIBUTE_TEXT = 1000;

/** Why `value` is not a valid attribute map, or null when it is. */
export function attributeMapProblem(value: unknown): string | null {
  if (!isPlainObject(value)) return 'must be an object';
  const entries = Object.entries(value);
  if (entries.length > MAX_ATTRIBUTES) return `may hold at most ${MAX_ATTRIBUTES} attributes`;
  for (const [key, v] of entries) {
    if (!ATTRIBUTE_KEY.test(key)) return `key "${key.slice(0, 64)}" must be 1-64 letters, digits, _ . : or -`;
    const ok =
      (typeof v === 'string' && v.length <= MAX_ATTRIBUTE_TEXT) ||
      (typeof v === 'number' && Number.isFinite(v)) ||
      typeof v === 'boolean';
    if (!ok) return `"${key}" must be a string of at most ${MAX_ATTRIBUTE_TEXT} characters, a number or a boolean`;
  }
  return null;
}

const OPTION_KEY = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
export const MAX_OPTIONS = 10;
const MAX_OPTION_TEXT = 100;

/** Why `value` is not a valid variant option map (e.g. `{color: "red", size: "M"}`), or null when it is. */
export function optionMapProblem(value: unknown): string | null {
  if (!isPlainObject(value)) return 'must be an object';
  const entries = Object.entries(value);
  if (entries.length > MAX_OPTIONS) return `may hold at most ${MAX_OPTIONS} options`;
  for (const [key, v] of entries) {
    if (!OPTION_KEY.test(key)) return `key "${key.slice(0, 32)}" must be 1-32 letters, digits or _, starting with a letter`;
    if (typeof v !== 'string' || v.trim().length === 0 || v.length > MAX_OPTION_TEXT) {
      return `"${key}" must be a non-empty string of at most ${MAX_OPTION_TEXT} characters`;
    }
    // The one option with a meaning outside the catalog: which stock the variant's orders are reserved from.
    if (key === 'condition' && v !== 'new' && v !== 'used') return `"condition" must be "new" or "used"`;
    // `Condition: "used"` would be kept as a mere label while the variant sold new stock.
    if (key !== 'condition' && key.toLowerCase() === 'condition') return `"${key}" must be written "condition"`;
  }
  return null;
}

function mapDecorator(name: string, problem: (value: unknown) => string | null, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: String(propertyName),
      options,
      validator: {
        validate: (value: unknown) => problem(value) === null,
        defaultMessage: (args) => `${args?.property ?? 'value'} ${problem(args?.value) ?? 'is invalid'}`,
      },
    });
  };
}

/** Product attributes: at most 50 keys; values are short strings, finite numbers or booleans. */
export const IsAttributeMap = (options?: ValidationOptions) => mapDecorator('isAttributeMap', attributeMapProblem, options);

/** Variant options: at most 10 keys; values are non-empty strings; `condition`, when given, is `new` or `used`. */
export const IsOptionMap = (options?: ValidationOptions) => mapDecorator('isOptionMap', optionMapProblem, options);
