import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FakeIdentity } from './fake-identity';
import { startGateway, testConfig } from './gateway-harness';

const LIMIT = 256 * 1024;
const run = promisify(execFile);

// The uploads run in a child process, as a client's would: in this process the client's reads and the gateway's
// close share one event loop, which hides the race between the 413 and the reset.
const UPLOADER = `
const { request } = require('node:http');
const [port, token, bytes, times] = process.argv.slice(1);
const one = () => new Promise((resolve) => {
  let answered = false;
  const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/users',
    headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json', 'content-length': bytes } }, (res) => {
    answered = true;
    res.resume();
    res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], connection: res.headers.connection }));
  });
  req.on('error', (e) => { if (!answered) resolve({ error: e.code || e.message }); });
  // Once the 413 is read the socket no longer belongs to the request, and the reset of the body still being
  // written arrives on the socket alone: a client that got its answer ignores it.
  req.on('socket', (socket) => socket.on('error', () => undefined));
  req.end(Buffer.alloc(Number(bytes), 32));
});
(async () => { const out = []; for (let i = 0; i < Number(times); i++) out.push(await one()); process.stdout.write(JSON.stringify(out)); })();
`;

type UploadResult = { status?: number; type?: string; connection?: string; error?: string };

/** `times` uploads of `bytes` with a declared length: each answer's status, or the error when none arrived. */
async function uploads(port: number, token: string, bytes: number, times: number): Promise<UploadResult[]> {
  const { stdout } = await run(process.execPath, ['-e', UPLOADER, String(port), token, String(bytes), String(times)]);
  return JSON.parse(stdout) as UploadResult[];
}

/**
 * A refused upload must reach the client as a 413, not as a reset: the gateway answers before the body has arrived,
 * and closing then would leave the rest unread.
 */
describe('gateway body limit on large uploads', () => {
  let identity: FakeIdentity;
  let app: NestExpressApplication;
  let port: number;
  let token: string;

  beforeAll(async () => {
    identity = await new FakeIdentity().init();
    app = await startGateway(testConfig(identity.url, { bodyLimitBytes: LIMIT }));
    port = (app.getHttpServer().address() as AddressInfo).port;
    token = await identity.token();
  });

  afterAll(async () => {
    await app.close();
    await identity.stop();
  });

  it('answers every 2 MB upload over the limit with a 413 problem the client receives, forwarding nothing', async () => {
    const results = await uploads(port, token, 2 * 1024 * 1024, 20);
    expect(results.filter((r) => r.status !== 413)).toEqual([]);
    expect(results.every((r) => /^application\/problem\+json/.test(r.type ?? ''))).toBe(true);
    // The rest of the body is read and dropped rather than reset, so the connection even stays usable.
    expect(results.every((r) => r.connection === 'keep-alive')).toBe(true);
    expect(identity.received('/v1/users')).toHaveLength(0);
  });

  it('reads the body of a request it refuses before the proxy (no credentials) only up to 16 times the limit', async () => {
    const server = app.getHttpServer() as import('node:http').Server;
    const read: number[] = [];
    const onConnection = (socket: import('node:net').Socket) => socket.once('close', () => read.push(socket.bytesRead));
    server.on('connection', onConnection);
    try {
      const [refused] = await uploads(port, '', 64 * 1024 * 1024, 1);
      expect(refused.status === 401 || refused.error !== undefined).toBe(true);
      const deadline = Date.now() + 5_000;
      while (read.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // 16 × 256 KiB read and discarded, plus what was in flight when the connection was cut: far from 64 MiB.
      expect(read).toHaveLength(1);
      expect(read[0]).toBeLessThan(8 * 1024 * 1024);
    } finally {
      server.off('connection', onConnection);
    }
  });

  it('cuts the connection of an upload far beyond the limit, and keeps serving', async () => {
    // 16 times the limit is what it reads and discards at most; the client may or may not see the 413 first.
    const [far] = await uploads(port, token, 40 * LIMIT, 1);
    expect(far.status === 413 || far.error !== undefined).toBe(true);
    const [after] = await uploads(port, token, 10, 1);
    expect(after.status).toBe(200);
  });
});
