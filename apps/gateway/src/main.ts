import 'reflect-metadata';
import { installSignalHandlers } from '@tessera/service-kit';
import { loadGatewayConfig } from './config';
import { createGatewayApp } from './gateway-app';
import { GATEWAY_LOGGER } from './gateway.tokens';
import type { Logger } from 'pino';

/** The public port: `node -r @swc-node/register apps/gateway/src/main.ts`. */
async function main(): Promise<void> {
  const config = loadGatewayConfig();
  const app = await createGatewayApp(config);
  await app.listen(config.port);
  const logger = app.get<Logger>(GATEWAY_LOGGER);
  logger.info({ port: config.port, upstreams: config.upstreams.map(({ name, url }) => ({ name, url })) }, 'gateway listening');
  installSignalHandlers(app, config.shutdownTimeoutMs, logger);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
