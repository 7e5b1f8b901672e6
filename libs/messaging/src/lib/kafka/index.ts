export * from './kafka.transport';
export * from './kafka.config';
export type { KafkaLogSink } from './kafka.logger';
export type { KafkaSubscriptionOptions } from './kafka.subscription';
