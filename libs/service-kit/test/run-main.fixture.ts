// Started by run-main.spec.ts as a main.ts would be: a configuration from the environment, then a start that fails.
import { baseConfigSchema, loadConfig, runMain } from '../src';

runMain('fixture', async () => {
  loadConfig(baseConfigSchema);
  throw new Error('the start itself failed');
});
