// Jest setupFiles entry of the service test suites: they assert what a service emitted by reading its outbox, so
// published rows are kept (marked) for an hour instead of being deleted as they are published, the production
// default. The deletion path itself is tested in libs/messaging.
process.env.OUTBOX_RETENTION_MS ??= '3600000';
