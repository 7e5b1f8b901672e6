/**
 * A lean JSON client for the gateway on keep-alive sockets. node:http rather than fetch: the client shares the
 * machine's 2 cores with the platform, so the cheaper the client, the less it skews what is measured.
 */
import http from 'node:http';

export interface Reply<T = unknown> {
  status: number;
  body: T;
}

export type Call = <T = unknown>(method: string, url: string, body?: unknown, headers?: Record<string, string>) => Promise<Reply<T>>;

export function httpClient(baseUrl: string, maxSockets: number): { call: Call; close: () => void; setToken: (t: string) => void } {
  // Idle sockets are closed after 4 s, before a server with Node's default keep-alive timeout (5 s) closes them: a
  // socket the server closes while a request is being sent on it fails that request with a reset.
  const agent = new http.Agent({ keepAlive: true, maxSockets, timeout: 4_000 });
  const base = new URL(baseUrl);
  let token: string | undefined;
  const once: Call = (method, url, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method,
          path: url,
          headers: {
            ...headers,
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(payload !== undefined
              ? {
                  'content-type': 'application/json',
                  'content-length': Buffer.byteLength(payload),
                }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: keep the text for the error message
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as never });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  // A keep-alive socket the server closed while idle fails the next request on it: reads are safe to send again.
  const call: Call = async (method, url, body, headers) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(method, url, body, headers);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (method !== 'GET' || attempt >= 3 || (code !== 'ECONNRESET' && code !== 'EPIPE')) throw e;
      }
    }
  };
  return { call, close: () => agent.destroy(), setToken: (t) => (token = t) };
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export function expectStatus(what: string, res: Reply, ...ok: number[]): void {
  if (!ok.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
}
