// Identity service entry point: `node -r @swc-node/register apps/identity/src/main.ts` (PORT, default 3101).
import { loadConfig, runMain } from '@tessera/service-kit';
import { identityConfigSchema } from './config';
import { startIdentity } from './identity-app';

runMain('identity', () => startIdentity({ config: loadConfig(identityConfigSchema) }));
