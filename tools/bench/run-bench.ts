import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/**
 * Entry of a bench started as `node -r @swc-node/register tools/bench/<name>.bench.ts`. Its @tessera/* imports need
 * tsconfig paths, which plain swc-node does not read: without them the file runs itself again with swc-node pointed
 * at tsconfig.base.json, as the launcher does for services; with them, `load` brings in the bench (only then, so
 * nothing @tessera/* is imported before) and its `main` runs on the arguments, exiting 0 or 1.
 */
export function runBench(entry: string, load: () => { main(argv: string[]): Promise<void> }): void {
  const argv = process.argv.slice(2);
  if (!process.env.SWC_NODE_PROJECT) {
    const root = path.resolve(__dirname, '../..');
    const res = spawnSync(process.execPath, ['-r', '@swc-node/register', entry, ...argv], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, SWC_NODE_PROJECT: path.join(root, 'tsconfig.base.json') },
    });
    process.exit(res.status ?? 1);
  }
  load()
    .main(argv)
    .then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
}
