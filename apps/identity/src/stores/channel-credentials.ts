export const CHANNELS = ['storefront', 'bricklink', 'brickowl', 'shopee', 'tiktok_shop', 'custom_website'] as const;
export type Channel = (typeof CHANNELS)[number];

/** The credential fields each sales channel needs; every field is required and a non-empty string. */
export const CHANNEL_CREDENTIAL_FIELDS: Record<Channel, readonly string[]> = {
  storefront: [],
  bricklink: ['consumerKey', 'consumerSecret', 'tokenValue', 'tokenSecret'],
  brickowl: ['apiKey'],
  shopee: ['partnerId', 'partnerKey', 'shopId'],
  tiktok_shop: ['appKey', 'appSecret', 'accessToken'],
  custom_website: ['baseUrl', 'apiKey'],
};

const MAX_FIELD_LENGTH = 4096;

export interface FieldError {
  field: string;
  message: string;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * Checks a store's credentials against its channel; returns one error per bad field, named
 * `credentials.<field>`, so the API can say exactly what is wrong. An empty list means valid.
 */
export function validateChannelCredentials(
  channel: Channel,
  credentials: Record<string, unknown> | undefined,
): FieldError[] {
  const expected = CHANNEL_CREDENTIAL_FIELDS[channel];
  const given = credentials ?? {};
  const errors: FieldError[] = [];
  if (expected.length === 0) {
    for (const name of Object.keys(given)) {
      errors.push({ field: `credentials.${name}`, message: `channel ${channel} takes no credentials` });
    }
    return errors;
  }
  if (credentials === undefined) {
    return [{ field: 'credentials', message: `channel ${channel} requires ${expected.join(', ')}` }];
  }
  for (const name of Object.keys(given)) {
    if (!expected.includes(name))
      errors.push({ field: `credentials.${name}`, message: `unknown field for channel ${channel}` });
  }
  for (const name of expected) {
    const value = given[name];
    if (value === undefined || value === null) {
      errors.push({ field: `credentials.${name}`, message: 'is required' });
    } else if (typeof value !== 'string' || value.trim().length === 0) {
      errors.push({ field: `credentials.${name}`, message: 'must be a non-empty string' });
    } else if (value.length > MAX_FIELD_LENGTH) {
      errors.push({ field: `credentials.${name}`, message: `must be at most ${MAX_FIELD_LENGTH} characters` });
    } else if (name === 'baseUrl' && !isHttpUrl(value)) {
      errors.push({ field: `credentials.${name}`, message: 'must be an http(s) URL' });
    }
  }
  return errors;
}
