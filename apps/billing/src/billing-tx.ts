import type { EntityManager } from 'typeorm';

/** What billing's writes need from a transaction: both TenantTransactions.run and Inbox.run hand one over. */
export interface BillingTx {
  manager: EntityManager;
  tenantId: string;
}

/** The event that caused a change, kept in the history (absent for staff commands). */
export interface CauseEvent {
  id: string;
  type: string;
  time: string;
}
