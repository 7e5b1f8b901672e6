import { randomBytes } from 'node:crypto';
import { expectProblem, IdentityHarness, type SignedUp } from './support/identity-harness';

/** How identity reads the strings people type: email addresses in one canonical form, names that name something. */
describe('emails and names as typed', () => {
  let h: IdentityHarness;
  let mall: SignedUp;
  beforeAll(async () => {
    h = await IdentityHarness.start();
    mall = await h.signup({ type: 'mall' });
  });
  afterAll(async () => {
    await h.close();
  });

  const login = async (email: string, password: string) =>
    h.http.post('/v1/auth/login').set(await h.anonymousHeaders()).set('x-forwarded-for', '198.51.100.90').send({ email, password });

  it('an address spelled with a decomposed accent is the same account as the composed one', async () => {
    const local = `café-${randomBytes(3).toString('hex')}`;
    const composed = `${local}@example.com`.normalize('NFC');
    const decomposed = composed.normalize('NFD');
    expect(decomposed).not.toBe(composed);
    const first = await h.signup({ email: decomposed });
    const { rows } = await h.admin.query<{ email: string }>('SELECT email FROM identity.users WHERE id = $1', [first.userId]);
    expect(rows[0].email).toBe(composed);
    const before = await h.rowCounts();
    const again = await h.http
      .post('/v1/tenants')
      .set(await h.anonymousHeaders())
      .send({ name: 'Second', slug: `second-${randomBytes(3).toString('hex')}`, owner: { email: composed, password: 'a long password', name: 'Two' } });
    expectProblem(again, 409);
    expect(await h.rowCounts()).toEqual(before);
    expect((await login(composed, first.password)).status).toBe(200);
    expect((await login(decomposed, first.password)).status).toBe(200);
  });

  it('logs in with the address typed with surrounding spaces and in capitals', async () => {
    const t = await h.signup();
    expect((await login(`  ${t.email.toUpperCase()} `, t.password)).status).toBe(200);
  });

  it('refuses names of only white space on every identity create route, changing nothing', async () => {
    const before = await h.rowCounts();
    const blank = ' \t ';
    const owner = await h.userHeaders(h.ownerOf(mall));
    const answers = [
      await h.http
        .post('/v1/tenants')
        .set(await h.anonymousHeaders())
        .send({ name: blank, slug: `blank-${randomBytes(3).toString('hex')}`, owner: { email: `b-${randomBytes(3).toString('hex')}@example.com`, password: 'a long password', name: 'Ok' } }),
      await h.http
        .post('/v1/tenants')
        .set(await h.anonymousHeaders())
        .send({ name: 'Ok', slug: `blank-${randomBytes(3).toString('hex')}`, owner: { email: `b-${randomBytes(3).toString('hex')}@example.com`, password: 'a long password', name: blank } }),
      await h.http.post('/v1/users').set(owner).send({ email: `u-${randomBytes(3).toString('hex')}@example.com`, name: blank, role: 'staff', password: 'a long password' }),
      await h.http.patch(`/v1/users/${mall.userId}`).set(owner).send({ name: blank }),
      await h.http.post('/v1/stores').set(owner).send({ name: blank, channel: 'storefront' }),
      await h.http.post('/v1/vendors').set(owner).send({ name: blank, commissionRate: 1000 }),
      await h.http.post('/v1/api-keys').set(owner).send({ name: blank, scopes: ['orders:write'] }),
    ];
    for (const res of answers) {
      expectProblem(res, 400);
      expect(JSON.stringify(res.body)).toMatch(/must not be blank/);
    }
    expect(await h.rowCounts()).toEqual(before);
  });
});
