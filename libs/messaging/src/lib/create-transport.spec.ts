import { createTransport, parseKafkaBrokers } from './create-transport';

describe('parseKafkaBrokers', () => {
  it('reads a comma-separated list, trimmed, empties dropped; unset or empty means the postgres log', () => {
    expect(parseKafkaBrokers({ KAFKA_BROKERS: ' a:9092, b:9092 ,' })).toEqual(['a:9092', 'b:9092']);
    expect(parseKafkaBrokers({ KAFKA_BROKERS: 'a:9092' })).toEqual(['a:9092']);
    expect(parseKafkaBrokers({})).toBeUndefined();
    expect(parseKafkaBrokers({ KAFKA_BROKERS: '' })).toBeUndefined();
  });

  it('refuses a value that is set but lists no broker, naming KAFKA_BROKERS', () => {
    for (const bad of [',', ' ', ' , ,']) {
      expect(() => parseKafkaBrokers({ KAFKA_BROKERS: bad })).toThrow(`KAFKA_BROKERS lists no broker (${JSON.stringify(bad)})`);
    }
  });
});

describe('createTransport', () => {
  it('refuses KAFKA_BROKERS listing no broker instead of falling back to the postgres log', () => {
    expect(() => createTransport({ KAFKA_BROKERS: ',', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db' }, { clientId: 'x' })).toThrow(
      /KAFKA_BROKERS lists no broker/,
    );
  });
});
