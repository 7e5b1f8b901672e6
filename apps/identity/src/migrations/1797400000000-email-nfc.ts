import { acrossTenants } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'identity';

/**
 * Email addresses are now written in Unicode NFC (canonicalEmail) and looked up in it, so an address stored before in
 * another form (a decomposed "é") could no longer log in. This rewrites such rows in NFC, except where that form is
 * taken already (two accounts that differ only in the form: the older rows are left for an operator, as merging
 * accounts is not a migration's call). Not undone by `down`: the NFC form is the same address.
 */
export class EmailNfc1797400000000 implements MigrationInterface {
  name = 'EmailNfc1797400000000';

  async up(q: QueryRunner): Promise<void> {
    await acrossTenants(q, S, ['users'], () =>
      q.query(
        `UPDATE ${S}.users u SET email = normalize(u.email, NFC)
          WHERE u.email IS NOT NFC NORMALIZED
            AND NOT EXISTS (SELECT 1 FROM ${S}.users o WHERE o.email = normalize(u.email, NFC))`,
      ),
    );
  }

  async down(): Promise<void> {
    // Nothing to undo (see above).
  }
}
