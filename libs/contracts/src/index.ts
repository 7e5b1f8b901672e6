export * from './lib/envelope';
export * from './lib/roles';
export * from './lib/request-context';
export * from './lib/events/identity.events';
