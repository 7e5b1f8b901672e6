import { logLevel, type logCreator } from 'kafkajs';
import pino from 'pino';

/** The slice of a pino logger the Kafka transport writes to; a pino `Logger` (or a child of one) fits. */
export interface KafkaLogSink {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** JSON logs on stdout like every Tessera process, at WARN unless LOG_LEVEL asks for more or less. */
export function defaultKafkaLogSink(): KafkaLogSink {
  return pino({ name: 'kafka', level: process.env.LOG_LEVEL ?? 'warn' });
}

/** Maps a pino level name onto kafkajs' own level, so kafkajs does not build log entries nobody reads. */
export function kafkajsLevel(level: string | undefined): logLevel {
  switch (level) {
    case 'silent':
      return logLevel.NOTHING;
    case 'fatal':
    case 'error':
      return logLevel.ERROR;
    case 'info':
      return logLevel.INFO;
    case 'debug':
    case 'trace':
      return logLevel.DEBUG;
    default:
      return logLevel.WARN;
  }
}

/** kafkajs `logCreator` that writes its entries as structured records into a pino-like sink. */
export function kafkajsLogCreator(sink: KafkaLogSink): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, ...extra } = log;
      const record = { namespace, ...extra };
      if (level === logLevel.ERROR) sink.error(record, message);
      else if (level === logLevel.WARN) sink.warn(record, message);
      else if (level === logLevel.INFO) sink.info(record, message);
      else sink.debug(record, message);
    };
}
