import { addressBucket } from './address-bucket';

describe('addressBucket', () => {
  it('counts an IPv6 client by its /64, in one spelling', () => {
    const bucket = '2001:db8:0:1::/64';
    for (const a of ['2001:db8:0:1::1', '2001:db8:0:1:ffff:ffff:ffff:ffff', '2001:0DB8:0000:0001:0:0:0:42', '2001:db8::1:1:2:3:4', '2001:db8:0:1::7%eth0']) {
      expect(addressBucket(a)).toBe(bucket);
    }
    expect(addressBucket('2001:db8:0:2::1')).toBe('2001:db8:0:2::/64');
    expect(addressBucket('::1')).toBe('0:0:0:0::/64');
    expect(addressBucket('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
  });

  it('keeps IPv4 clients apart, also when a dual-stack socket reports them IPv4-mapped', () => {
    expect(addressBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(addressBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressBucket('::FFFF:203.0.113.8')).toBe('203.0.113.8');
  });

  it('leaves what is no address as it is', () => {
    expect(addressBucket('unknown')).toBe('unknown');
    expect(addressBucket('')).toBe('');
  });
});
