import { kafkaOptionsFromEnv } from './kafka.config';

describe('kafkaOptionsFromEnv', () => {
  it('reads brokers and consumer timings', () => {
    const opts = kafkaOptionsFromEnv(
      { KAFKA_BROKERS: ' a:9092, b:9092 ,', KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '500' },
      'svc',
    );
    expect(opts).toEqual({
      brokers: ['a:9092', 'b:9092'],
      clientId: 'svc',
      consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
    });
  });

  it('names the bad variable', () => {
    expect(() => kafkaOptionsFromEnv({}, 'svc')).toThrow('KAFKA_BROKERS');
    expect(() => kafkaOptionsFromEnv({ KAFKA_BROKERS: 'a:1', KAFKA_SESSION_TIMEOUT_MS: 'soon' }, 'svc')).toThrow(
      'KAFKA_SESSION_TIMEOUT_MS',
    );
  });
});
