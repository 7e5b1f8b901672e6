import { migrationCli } from '../src';

describe('migrationCli and DATABASE_URL', () => {
  const config = { schema: 'cli_url_check', migrations: [] };
  let stderr: string[];
  beforeEach(() => {
    stderr = [];
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = undefined;
  });

  it('refuses a DATABASE_URL that is not a postgres URL before connecting, naming it and not its password', async () => {
    const beforeRun = jest.fn();
    for (const [url, message] of [
      ['not-a-url', 'DATABASE_URL is not a URL (postgres://user:password@host:port/database)'],
      ['mysql://u:secret@db/x', 'DATABASE_URL must be a postgres:// or postgresql:// URL, not mysql://'],
    ]) {
      stderr = [];
      expect(await migrationCli({ ...config, beforeRun }, ['run'], { DATABASE_URL: url, DB_APP_PASSWORD: 'pw' })).toBe(1);
      expect(stderr.join('')).toBe(`[migrate cli_url_check] failed: ${message}\n`);
    }
    expect(beforeRun).not.toHaveBeenCalled();
  });

  it('says which variable to fix when the PostgreSQL of DATABASE_URL cannot be reached, also from beforeRun', async () => {
    const env = { DATABASE_URL: 'postgres://u:secret@127.0.0.1:1/db', DB_APP_PASSWORD: 'pw' };
    expect(await migrationCli(config, ['run'], env)).toBe(1);
    expect(stderr.join('')).toMatch(/^\[migrate cli_url_check\] failed: cannot connect to the PostgreSQL of DATABASE_URL \(127\.0\.0\.1:1\): .*ECONNREFUSED/);
    expect(stderr.join('')).not.toContain('secret');

    stderr = [];
    const { Client } = await import('pg');
    const beforeRun = jest.fn(async (adminUrl: string) => {
      const client = new Client({ connectionString: adminUrl });
      await client.connect();
    });
    expect(await migrationCli({ ...config, beforeRun }, ['run'], env)).toBe(1);
    expect(beforeRun).toHaveBeenCalledWith(env.DATABASE_URL, env);
    expect(stderr.join('')).toMatch(/failed: cannot connect to the PostgreSQL of DATABASE_URL \(127\.0\.0\.1:1\): .*ECONNREFUSED/);
  });
});
