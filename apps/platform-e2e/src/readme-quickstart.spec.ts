import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { removeDataDir, startPlatform, type Platform } from './platform';

const root = path.resolve(__dirname, '../../..');

/** The shell block of the README's "Try it" section, between its quickstart markers. */
function quickstart(): string {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const marked = /<!-- quickstart:start -->\s*```sh\n([\s\S]*?)```\s*<!-- quickstart:end -->/.exec(readme);
  if (!marked) throw new Error('README.md has no quickstart block between <!-- quickstart:start --> and <!-- quickstart:end -->');
  return marked[1];
}

/** The README's walk from signup to a paid order, run as a reader would paste it, against a fresh platform. */
describe("the README's quickstart", () => {
  let platform: Platform & { startupMs: number };

  beforeAll(async () => {
    platform = await startPlatform({});
  });

  afterAll(async () => {
    await platform?.stop();
    if (platform) removeDataDir(platform);
  });

  it('runs as written and ends with the order paid and its stock committed', async () => {
    const { stdout, stderr } = await promisify(execFile)('bash', ['-c', `set -e\n${quickstart()}`], {
      cwd: root,
      env: { ...process.env, BASE: platform.baseUrl },
      timeout: 120_000,
    });
    expect(stderr).toBe('');
    // The commit in the ledger, the order's summary, then the stock: 100 received, 3 committed once it was paid.
    expect(stdout).toMatch(/\{\s*"type": "commit",\s*"delta": -3\s*\}/);
    expect(stdout).toContain('"status": "paid"');
    expect(stdout).toMatch(/"history": \[\s*"pending",\s*"awaiting_payment",[\s\S]*"paid"\s*\]/);
    expect(stdout).toMatch(/\{\s*"onHand": 97,\s*"reserved": 0,\s*"available": 97\s*\}\s*$/);
  });
});
