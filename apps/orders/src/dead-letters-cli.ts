/**
 * The platform operator's view of the orders consumer group's dead letters: events whose handler kept failing, parked
 * with the later events of their key (see libs/messaging core/dead-letters.ts). Calls orders's internal
 * `/internal/dead-letters` routes directly (never through the gateway, which hides `/internal`).
 *
 *   npx nx run orders:dead-letters                           # the open letters
 *   npx nx run orders:dead-letters --args="show <id>"        # one letter, its event and error
 *   npx nx run orders:dead-letters --args="replay <id>"      # run its key's open letters in order
 *   npx nx run orders:dead-letters --args="replay-all"       # the same for every key
 *   npx nx run orders:dead-letters --args="discard <id>"     # give up the first letter of a key
 *
 * Environment: ORDERS_URL (default http://127.0.0.1:$ORDERS_PORT, port 3104 when unset); INTERNAL_TOKEN_SECRET,
 * else the embedded default's `$TESSERA_DATA_DIR/secrets.json`. Exits 1 unless orders answers 2xx, 2 on bad usage.
 */
import { deadLettersToolMain } from '@tessera/messaging';
import { runOperatorTool } from '@tessera/service-kit';

if (require.main === module) {
  runOperatorTool('orders:dead-letters', deadLettersToolMain({ service: 'orders', defaultPort: 3104 }));
}
