import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The gateway's end of the connection: one port per upstream connection it opened. */
  remotePort?: number;
}

export type Route = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;
export type PatternRoute = (req: RecordedRequest, res: ServerResponse, match: RegExpExecArray) => void | Promise<void>;

/**
 * A real HTTP server standing in for a service: routes by `METHOD /path`, records every request it received,
 * and echoes method, url, headers and body as JSON for anything unrouted.
 */
export class FakeUpstream {
  readonly requests: RecordedRequest[] = [];
  /** Requests whose body never arrived whole. */
  aborted = 0;
  private readonly routes = new Map<string, Route>();
  private readonly patternRoutes: { method: string; pattern: RegExp; handler: PatternRoute }[] = [];
  private server?: Server;

  route(method: string, path: string, handler: Route): this {
    this.routes.set(`${method} ${path}`, handler);
    return this;
  }

  /** A route whose path matches `pattern` (tried after the exact routes); the handler gets the match. */
  routeMatching(method: string, pattern: RegExp, handler: PatternRoute): this {
    this.patternRoutes.push({ method, pattern, handler });
    return this;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error('FakeUpstream not started');
    return `http://127.0.0.1:${address.port}`;
  }

  /** Requests whose path starts with `prefix`. */
  received(prefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.url.startsWith(prefix));
  }

  async start(): Promise<this> {
    // A request the gateway abandons mid-body (413, timeout) rejects while reading: count it, answer nothing.
    this.server = createServer((req, res) => void this.handle(req, res).catch(() => this.aborted++));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      remotePort: req.socket.remotePort,
    };
    this.requests.push(recorded);
    const path = recorded.url.split('?')[0];
    const route = this.routes.get(`${recorded.method} ${path}`);
    if (route) return route(recorded, res);
    for (const { method, pattern, handler } of this.patternRoutes) {
      const match = method === recorded.method ? pattern.exec(path) : null;
      if (match) return handler(recorded, res, match);
    }
    json(res, 200, { method: recorded.method, url: recorded.url, headers: recorded.headers, body: recorded.body });
  }
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
