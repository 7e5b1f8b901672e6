import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { discardUnreadBody } from './unread-body';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server that answers at once without reading the body, handing each request to the test. */
async function answeringServer(): Promise<{ server: Server; port: number; next: () => Promise<IncomingMessage> }> {
  const waiting: ((req: IncomingMessage) => void)[] = [];
  const server = createServer((req, res) => {
    res.end('refused');
    res.once('finish', () => waiting.shift()?.(req));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, port, next: () => new Promise((resolve) => waiting.push(resolve)) };
}

describe('discardUnreadBody', () => {
  let server: Server;
  let port: number;
  let next: () => Promise<IncomingMessage>;
  let client: Socket | undefined;
  // The watch is an interval; counting the process's timers instead races Node's own, which come and go with the
  // socket. The spies call through.
  let intervals: jest.SpyInstance;
  let cleared: jest.SpyInstance;
  const watch = (): NodeJS.Timeout => intervals.mock.results[0]?.value;
  beforeEach(async () => {
    ({ server, port, next } = await answeringServer());
    intervals = jest.spyOn(global, 'setInterval');
    cleared = jest.spyOn(global, 'clearInterval');
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    client?.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const sendHead = (length: number, first: string) => {
    client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    client.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n${first}`);
    return client;
  };

  it('stops watching once the body has arrived, leaving the keep-alive connection as it found it', async () => {
    const answered = next();
    const socket = sendHead(20, 'x'.repeat(5));
    const req = await answered;
    const closeListeners = req.socket.listenerCount('close');
    discardUnreadBody(req, 1_000);
    expect(intervals).toHaveBeenCalledTimes(1);
    socket.write('x'.repeat(15));
    const deadline = Date.now() + 2_000;
    while (!req.complete && Date.now() < deadline) await sleep(5);
    while (!cleared.mock.calls.some(([t]) => t === watch()) && Date.now() < deadline) await sleep(5);
    expect(req.complete).toBe(true);
    expect(req.socket.destroyed).toBe(false);
    expect(cleared).toHaveBeenCalledWith(watch());
    expect(req.socket.listenerCount('close')).toBe(closeListeners);
  });

  it('cuts the connection past the cap, and stops watching', async () => {
    const answered = next();
    const socket = sendHead(1_000_000, 'x'.repeat(5));
    const req = await answered;
    discardUnreadBody(req, 1_000);
    expect(intervals).toHaveBeenCalledTimes(1);
    socket.write('x'.repeat(50_000));
    const deadline = Date.now() + 2_000;
    while (!req.socket.destroyed && Date.now() < deadline) await sleep(5);
    expect(req.socket.destroyed).toBe(true);
    expect(cleared).toHaveBeenCalledWith(watch());
  });

  it('does nothing for a connection the client has already closed', async () => {
    const answered = next();
    const socket = sendHead(1_000, 'x');
    const req = await answered;
    socket.destroy();
    const deadline = Date.now() + 2_000;
    while (!req.socket.destroyed && Date.now() < deadline) await sleep(5);
    discardUnreadBody(req, 1_000);
    expect(intervals).not.toHaveBeenCalled();
  });
});
