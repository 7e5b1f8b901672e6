import { messagingTablesMigration } from '@tessera/messaging';
import { BillingSchema1763900000000 } from './1763900000000-billing-schema';

/** Every billing migration, in order. */
export const BILLING_MIGRATIONS = [messagingTablesMigration('billing', 1763700000000), BillingSchema1763900000000];
