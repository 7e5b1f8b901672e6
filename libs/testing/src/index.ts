export * from './postgres/test-database';
export * from './kafka/kafka-harness';
export * from './postgres/outbox-rls';
export * from './postgres/lock-waits';
