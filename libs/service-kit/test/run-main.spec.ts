import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const run = (env: Record<string, string>) =>
  spawnSync(process.execPath, ['-r', '@swc-node/register', 'libs/service-kit/test/run-main.fixture.ts'], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });

describe('runMain', () => {
  it('ends on a configuration it cannot use with one line naming the variables, and exit code 1', () => {
    const res = run({ LOG_LEVEL: 'verbose', INTERNAL_TOKEN_SECRET: 'short' });
    expect(res.status).toBe(1);
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^fixture failed to start: Invalid configuration: LOG_LEVEL: .*; INTERNAL_TOKEN_SECRET: /);
  });

  it('ends on any other failure with its stack, and exit code 1', () => {
    const res = run({ INTERNAL_TOKEN_SECRET: 'a-secret-of-at-least-thirty-two-characters' });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('fixture failed to start: Error: the start itself failed');
    expect(res.stderr).toMatch(/\n\s+at /);
  });
});
