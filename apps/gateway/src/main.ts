import 'reflect-metadata';
import { installSignalHandlers, runMain, ShutdownRegistry } from '@tessera/service-kit';
import { loadGatewayConfig } from './config';
import { createGatewayApp } from './gateway-app';
import { GATEWAY_LOGGER } from './gateway.tokens';
import { startMetricsServer } from './metrics-server';
import type { Logger } from 'pino';

/** The public port: `node -r @swc-node/register apps/gateway/src/main.ts`. */
async function main(): Promise<void> {
  const config = loadGatewayConfig();
  const app = await createGatewayApp(config);
  const metrics = await startMetricsServer(config.metricsPort, config.metricsHost);
  app.get(ShutdownRegistry).registerShutdownHook('metrics server', () =>
    new Promise<void>((resolve) => {
      metrics.server.close(() => resolve());
      // A scraper's keep-alive connection would otherwise hold the close until it times out.
      metrics.server.closeAllConnections();
    }),
  );
  if (config.host) await app.listen(config.port, config.host);
  else await app.listen(config.port);
  const logger = app.get<Logger>(GATEWAY_LOGGER);
  logger.info(
    { port: config.port, metricsPort: metrics.port, upstreams: config.upstreams.map(({ name, url }) => ({ name, url })) },
    'gateway listening',
  );
  installSignalHandlers(app, config.shutdownTimeoutMs, logger);
  // Started by `npm start` (tools/launcher), which prints the metrics URL: with METRICS_PORT=0 only this process knows it.
  process.send?.({ type: 'listening', port: config.port, metricsPort: metrics.port });
}

runMain('gateway', main);
