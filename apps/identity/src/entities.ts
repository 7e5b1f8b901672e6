import { ApiKeyEntity } from './api-keys/api-key.entity';
import { RefreshTokenEntity } from './auth/refresh-token.entity';
import { StoreEntity } from './stores/store.entity';
import { TenantEntity } from './tenants/tenant.entity';
import { UserEntity } from './users/user.entity';
import { VendorEntity } from './vendors/vendor.entity';

export const IDENTITY_SCHEMA = 'identity';

export const IDENTITY_ENTITIES = [
  TenantEntity,
  UserEntity,
  RefreshTokenEntity,
  VendorEntity,
  StoreEntity,
  ApiKeyEntity,
];
