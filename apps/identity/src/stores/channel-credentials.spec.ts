import { validateChannelCredentials } from './channel-credentials';

describe('validateChannelCredentials', () => {
  it('accepts each channel with exactly its fields', () => {
    expect(validateChannelCredentials('storefront', undefined)).toEqual([]);
    expect(validateChannelCredentials('brickowl', { apiKey: 'k' })).toEqual([]);
    expect(
      validateChannelCredentials('bricklink', {
        consumerKey: 'a',
        consumerSecret: 'b',
        tokenValue: 'c',
        tokenSecret: 'd',
      }),
    ).toEqual([]);
    expect(validateChannelCredentials('shopee', { partnerId: '1', partnerKey: 'k', shopId: '2' })).toEqual([]);
    expect(validateChannelCredentials('tiktok_shop', { appKey: 'a', appSecret: 'b', accessToken: 'c' })).toEqual([]);
    expect(validateChannelCredentials('custom_website', { baseUrl: 'https://shop.example', apiKey: 'k' })).toEqual([]);
  });

  it('names every missing, unknown or badly typed field', () => {
    const errors = validateChannelCredentials('bricklink', {
      consumerKey: 'a',
      consumerSecret: 5,
      tokenValue: '',
      extra: 'x',
    });
    expect(errors.map((e) => e.field).sort()).toEqual([
      'credentials.consumerSecret',
      'credentials.extra',
      'credentials.tokenSecret',
      'credentials.tokenValue',
    ]);
    expect(validateChannelCredentials('brickowl', undefined)).toEqual([
      { field: 'credentials', message: expect.stringContaining('apiKey') },
    ]);
    expect(validateChannelCredentials('storefront', { apiKey: 'x' })[0].field).toBe('credentials.apiKey');
    expect(validateChannelCredentials('custom_website', { baseUrl: 'ftp://x', apiKey: 'k' })[0].field).toBe(
      'credentials.baseUrl',
    );
  });
});
