import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Channel } from './channel-credentials';

@Entity({ schema: 'identity', name: 'stores' })
export class StoreEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ name: 'vendor_id', type: 'uuid', nullable: true })
  vendorId!: string | null;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  channel!: Channel;

  /** AES-256-GCM envelope of the credentials JSON (see CredentialsCipher); never returned by the API. */
  @Column({ name: 'credentials_encrypted', type: 'text', nullable: true, select: false })
  credentialsEncrypted!: string | null;

  /** Names of the credential fields that are set: the only part of the credentials the API shows. */
  @Column({ name: 'credentials_set', type: 'text', array: true })
  credentialsSet!: string[];

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
