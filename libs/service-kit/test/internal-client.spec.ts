import http from 'node:http';
import net from 'node:net';
import { callInternal, serviceUrl } from '../src';

/** A port nothing listens on (just released by the kernel). */
const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });

describe("the operator tools' internal client", () => {
  it('finds a service at <SERVICE>_URL, else on the loopback at <SERVICE>_PORT, else at its default port', () => {
    expect(serviceUrl('identity', 3101, { IDENTITY_URL: 'http://id.internal:8080' })).toEqual({ url: 'http://id.internal:8080', variable: 'IDENTITY_URL' });
    expect(serviceUrl('identity', 3101, { IDENTITY_PORT: '3911' })).toEqual({ url: 'http://127.0.0.1:3911', variable: 'IDENTITY_URL (or IDENTITY_PORT)' });
    expect(serviceUrl('catalog', 3102, {})).toEqual({ url: 'http://127.0.0.1:3102', variable: 'CATALOG_URL (or CATALOG_PORT)' });
  });

  it('names the address it could not reach, why, and the variable that sets it', async () => {
    const port = await closedPort();
    const call = { baseUrl: `http://127.0.0.1:${port}/`, internalTokenSecret: 'x'.repeat(32), method: 'GET' as const, path: '/internal/x' };
    await expect(callInternal({ ...call, urlVariable: 'IDENTITY_URL' })).rejects.toThrow(
      `cannot reach http://127.0.0.1:${port} (ECONNREFUSED): is the service running there? IDENTITY_URL sets its URL`,
    );
  });

  it('says a service that took the call but did not answer in time may still be working, not that it cannot be reached', async () => {
    const server = http.createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const call = { baseUrl: `http://127.0.0.1:${port}`, internalTokenSecret: 'x'.repeat(32), method: 'POST' as const, path: '/internal/republish', timeoutMs: 200 };
      await expect(callInternal(call)).rejects.toThrow(`http://127.0.0.1:${port} did not answer within 200 ms; the work may still be running there`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
