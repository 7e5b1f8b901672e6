export * from './lib/envelope';
export * from './lib/roles';
export * from './lib/request-context';
export * from './lib/events/identity.events';
export * from './lib/events/catalog.events';
export * from './lib/events/inventory.events';
export * from './lib/events/orders.events';
export * from './lib/events/billing.events';
