import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * An API key for internal ops services. The key (`tsk_<prefix>_<secret>`) is shown once; only its SHA-256 is
 * kept, with the non-secret `prefix` to find the row when a key is presented.
 */
@Entity({ schema: 'identity', name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', array: true })
  scopes!: string[];

  @Column({ type: 'text' })
  prefix!: string;

  @Column({ name: 'key_hash', type: 'bytea', select: false })
  keyHash!: Buffer;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
