/**
 * The platform operator's view of the inventory consumer group's dead letters: events whose handler kept failing, parked
 * with the later events of their key (see libs/messaging core/dead-letters.ts). Calls inventory's internal
 * `/internal/dead-letters` routes directly (never through the gateway, which hides `/internal`).
 *
 *   npx nx run inventory:dead-letters                           # the open letters
 *   npx nx run inventory:dead-letters --args="show <id>"        # one letter, its event and error
 *   npx nx run inventory:dead-letters --args="replay <id>"      # run its key's open letters in order
 *   npx nx run inventory:dead-letters --args="replay-all"       # the same for every key
 *   npx nx run inventory:dead-letters --args="discard <id>"     # give up the first letter of a key
 *
 * Environment: INVENTORY_URL (default http://127.0.0.1:$INVENTORY_PORT, port 3103 when unset); INTERNAL_TOKEN_SECRET,
 * else the embedded default's `$TESSERA_DATA_DIR/secrets.json`. Exits 1 unless inventory answers 2xx, 2 on bad usage.
 */
import { deadLettersToolMain } from '@tessera/messaging';
import { runOperatorTool } from '@tessera/service-kit';

if (require.main === module) {
  runOperatorTool('inventory:dead-letters', deadLettersToolMain({ service: 'inventory', defaultPort: 3103 }));
}
