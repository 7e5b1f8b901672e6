import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { client, removeDataDir, startPlatform } from './platform';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('npm start (tools/launcher)', () => {
  it('stops everything on SIGTERM and keeps its data across a restart', async () => {
    const platform = await startPlatform();
    try {
      const api = client(platform.baseUrl);
      const slug = `keep-${randomUUID().slice(0, 8)}`;
      const owner = { email: `o@${slug}.test`, password: 'persistent password', name: 'Kim' };
      expect((await api('POST', '/v1/tenants', { body: { name: 'Keep', slug, owner } })).status).toBe(201);
      expect(platform.output()).toMatch(/API docs\s+http:\/\/localhost:\d+\/docs/);

      expect(await platform.stop()).toBe(0);
      expect(await portOpen(platform.pgPort)).toBe(false);
      expect(await portOpen(Number(new URL(platform.baseUrl).port))).toBe(false);

      await platform.restart();
      const login = await api('POST', '/v1/auth/login', { body: { email: owner.email, password: owner.password } });
      expect(login.status).toBe(200);
      expect(await platform.stop()).toBe(0);
    } finally {
      await platform.stop();
      removeDataDir(platform);
    }
  });
});
