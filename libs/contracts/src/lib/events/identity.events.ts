/** Payloads of the identity context's events (topic `tessera.identity.events`). */

export const IdentityEventTypes = {
  TenantCreated: 'identity.tenant.created',
  TenantStatusChanged: 'identity.tenant.status_changed',
  UserCreated: 'identity.user.created',
  UserUpdated: 'identity.user.updated',
  UserDeactivated: 'identity.user.deactivated',
  StoreCreated: 'identity.store.created',
  VendorCreated: 'identity.vendor.created',
  ApiKeyCreated: 'identity.api_key.created',
  ApiKeyRevoked: 'identity.api_key.revoked',
} as const;

export interface TenantCreatedV1 {
  tenantId: string;
  slug: string;
  name: string;
  type: 'single_brand' | 'mall';
  defaultCurrency: string;
  plan: string;
  status: 'trial' | 'active' | 'suspended';
}

/**
 * The platform operator changed a tenant's status (identity's `PUT /internal/tenants/{id}/status`). Emitted only
 * when the status really changed; `reason` is the operator's free text.
 */
export interface TenantStatusChangedV1 {
  tenantId: string;
  from: 'trial' | 'active' | 'suspended';
  to: 'trial' | 'active' | 'suspended';
  reason: string;
}

export interface UserCreatedV1 {
  userId: string;
  tenantId: string;
  email: string;
  name: string;
  role: string;
}

export interface UserUpdatedV1 {
  userId: string;
  tenantId: string;
  name: string;
  role: string;
}

export interface UserDeactivatedV1 {
  userId: string;
  tenantId: string;
}

export interface StoreCreatedV1 {
  storeId: string;
  tenantId: string;
  name: string;
  channel: string;
  vendorId?: string | null;
}

/** A vendor was created in a `mall` tenant (identity's `POST /v1/vendors`); `commissionRate` in basis points. */
export interface VendorCreatedV1 {
  tenantId: string;
  vendorId: string;
  name: string;
  commissionRate: number;
}

export interface ApiKeyCreatedV1 {
  apiKeyId: string;
  tenantId: string;
  name: string;
  scopes: string[];
}

export interface ApiKeyRevokedV1 {
  apiKeyId: string;
  tenantId: string;
}
