import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { TenantTransactions, type TenantTx } from '@tessera/persistence';
import { DomainException, ForbiddenProblem, UnauthorizedProblem } from '@tessera/service-kit';
import { DataSource, IsNull } from 'typeorm';
import { IDENTITY_CONFIG, type IdentityConfig } from '../config';
import { dummyPasswordHash, verifyPassword } from '../crypto/passwords';
import { randomSecret, sha256 } from '../crypto/secrets';
import { TenantEntity, type TenantStatus } from '../tenants/tenant.entity';
import { UserEntity } from '../users/user.entity';
import { AccessTokenIssuer } from './access-token.issuer';
import type { TokenPairDto } from './dto/auth.dto';
import { LoginThrottle } from './login-throttle';
import { RefreshTokenEntity } from './refresh-token.entity';
import { canonicalEmail } from '../common/email';

/** One message for unknown email, wrong password and deactivated user, so none can be told apart. */
const BAD_CREDENTIALS = 'invalid email or password';
const BAD_REFRESH = 'refresh token is invalid, expired or revoked';

/** 429; the controller copies `retryAfterSeconds` into the Retry-After header. */
export class TooManyAttemptsProblem extends DomainException {
  constructor(readonly retryAfterSeconds: number) {
    super('too_many_requests', `too many failed logins; retry in ${retryAfterSeconds} s`, {
      extensions: { retryAfter: retryAfterSeconds },
    });
  }
}

interface LoginRow {
  user_id: string;
  tenant_id: string;
  password_hash: string;
  user_status: string;
  tenant_status: TenantStatus;
}

type RefreshOutcome = { ok: TokenPairDto } | { refused: 'unauthorized' | 'suspended' };

@Injectable()
export class AuthService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TenantTransactions,
    private readonly issuer: AccessTokenIssuer,
    private readonly throttle: LoginThrottle,
    @Inject(IDENTITY_CONFIG) private readonly config: IdentityConfig,
  ) {}

  async login(email: string, password: string, address: string): Promise<TokenPairDto> {
    const retryAfter = await this.throttle.acquire(email, address);
    if (retryAfter > 0) throw new TooManyAttemptsProblem(retryAfter);

    // identity.find_login is a SECURITY DEFINER lookup by exact email (see the migration for why it is safe):
    // the tenant is what we are looking for, so no tenant can be set yet. Emails are stored lower-cased by
    // JavaScript's rules, which differ from PostgreSQL's lower() for some letters ('İ'); lower-case the same way here.
    const rows: LoginRow[] = await this.dataSource.query('SELECT * FROM identity.find_login($1)', [canonicalEmail(email)]);
    const row = rows[0];
    // An unknown email still pays for one argon2 verification so response time does not reveal it.
    let passwordOk = false;
    if (row) passwordOk = await verifyPassword(row.password_hash, password);
    else await verifyPassword(await dummyPasswordHash(), password);
    // A failure keeps the attempt acquire() took.
    if (!row || !passwordOk || row.user_status !== 'active') throw new UnauthorizedProblem(BAD_CREDENTIALS);
    await this.throttle.recordSuccess(email, address);
    if (row.tenant_status === 'suspended') throw new ForbiddenProblem('this tenant is suspended');

    return this.transactions.run(row.tenant_id, async (tx) => {
      const user = await tx.manager.findOneByOrFail(UserEntity, { id: row.user_id });
      return this.issuePair(tx, user, row.tenant_status, randomUUID());
    });
  }

  async refresh(refreshToken: string): Promise<TokenPairDto> {
    const found = await this.findRefreshToken(refreshToken);
    if (!found) throw new UnauthorizedProblem(BAD_REFRESH);
    const { tokenId, tenantId } = found;

    // Refusals that revoke must commit, so the transaction returns an outcome and the exception is thrown after it.
    const outcome = await this.transactions.run(tenantId, async (tx): Promise<RefreshOutcome> => {
      const token = await this.lockFamilyOf(tx, tokenId);
      if (!token || token.revokedAt) return { refused: 'unauthorized' };
      if (token.rotatedAt) {
        // A rotated token came back: it was copied. Whoever holds the family's live token loses it too.
        await this.revokeFamily(tx, token.familyId);
        return { refused: 'unauthorized' };
      }
      if (token.expiresAt.getTime() <= Date.now()) return { refused: 'unauthorized' };
      const user = await tx.manager.findOneBy(UserEntity, { id: token.userId });
      const tenant = await tx.manager.findOneBy(TenantEntity, { id: tenantId });
      if (!user || !tenant || user.status !== 'active') {
        await this.revokeFamily(tx, token.familyId);
        return { refused: 'unauthorized' };
      }
      if (tenant.status === 'suspended') return { refused: 'suspended' };
      await tx.manager.update(RefreshTokenEntity, { id: token.id }, { rotatedAt: new Date() });
      return { ok: await this.issuePair(tx, user, tenant.status, token.familyId) };
    });
    if ('ok' in outcome) return outcome.ok;
    if (outcome.refused === 'suspended') throw new ForbiddenProblem('this tenant is suspended');
    throw new UnauthorizedProblem(BAD_REFRESH);
  }

  /**
   * Ends the session a refresh token belongs to: every token of its family (the login and each rotation since) is
   * revoked. An unknown, expired or already revoked token changes nothing and is answered the same, so a caller
   * learns nothing from it. Access tokens already issued stay valid until they expire (15 minutes by default).
   */
  async logout(refreshToken: string): Promise<void> {
    const found = await this.findRefreshToken(refreshToken);
    if (!found) return;
    const { tokenId, tenantId } = found;
    await this.transactions.run(tenantId, async (tx) => {
      const token = await this.lockFamilyOf(tx, tokenId);
      if (token) await this.revokeFamily(tx, token.familyId);
    });
  }

  /** A presented refresh token's row and tenant, by its digest (identity.find_refresh_token: no tenant is set yet). */
  private async findRefreshToken(refreshToken: string): Promise<{ tokenId: string; tenantId: string } | undefined> {
    const rows: { token_id: string; tenant_id: string }[] = await this.dataSource.query(
      'SELECT * FROM identity.find_refresh_token($1)',
      [sha256(refreshToken)],
    );
    return rows[0] && { tokenId: rows[0].token_id, tenantId: rows[0].tenant_id };
  }

  /**
   * Serializes the refreshes and logouts of one session (token family), then reads the token again. A revocation is
   * one UPDATE of the family, which sees only tokens committed when it starts: without this, a rotated token replayed
   * (or a logout sent) while the live token was being refreshed left the token that refresh issued alive, and whoever
   * held it kept the session.
   */
  private async lockFamilyOf(tx: TenantTx, tokenId: string): Promise<RefreshTokenEntity | null> {
    const seen = await tx.manager.findOne(RefreshTokenEntity, { where: { id: tokenId }, select: { id: true, familyId: true } });
    if (!seen) return null;
    await tx.manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tessera.identity.refresh-family:${seen.familyId}`]);
    // Read committed: this statement sees whatever the family's previous holder of the lock committed.
    return tx.manager.findOneBy(RefreshTokenEntity, { id: tokenId });
  }

  private async revokeFamily(tx: TenantTx, familyId: string): Promise<void> {
    await tx.manager.update(RefreshTokenEntity, { familyId, revokedAt: IsNull() }, { revokedAt: new Date() });
  }

  private async issuePair(
    tx: TenantTx,
    user: UserEntity,
    tenantStatus: TenantStatus,
    familyId: string,
  ): Promise<TokenPairDto> {
    const refreshToken = randomSecret(32);
    const now = new Date();
    await tx.manager.insert(RefreshTokenEntity, {
      id: randomUUID(),
      tenantId: user.tenantId,
      userId: user.id,
      familyId,
      tokenHash: sha256(refreshToken),
      expiresAt: new Date(now.getTime() + this.config.REFRESH_TOKEN_TTL_SECONDS * 1000),
      rotatedAt: null,
      revokedAt: null,
      createdAt: now,
    });
    const accessToken = await this.issuer.issue({
      userId: user.id,
      tenantId: user.tenantId,
      role: user.role,
      tenantStatus,
    });
    return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: this.issuer.ttlSeconds };
  }
}
