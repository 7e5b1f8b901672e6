import * as net from 'node:net';

/**
 * librdkafka's mock cluster has no CreateTopics API and reports controller id 0, which is no broker, so a client's
 * `admin.createTopics` cannot reach it. This proxy sits in front of each mock broker and fills that gap at the
 * protocol level, so tests can run the real kafkajs admin call against the real mock:
 *
 * - ApiVersions responses also advertise CreateTopics (v0-v3), and cap Metadata and FindCoordinator at the versions
 *   rewritten here;
 * - Metadata responses name a real broker as the controller, and every broker by its proxy address;
 * - FindCoordinator responses name the coordinator by its proxy address;
 * - CreateTopics requests are answered here: each topic is validated like a broker would (partitions >= 1,
 *   replication factor 1..brokers, TOPIC_ALREADY_EXISTS for an existing one) and created in the mock through
 *   `createTopic` (the harness's `topic` command).
 *
 * Everything else (produce, fetch, groups, offsets) passes through byte for byte. Only the non-flexible protocol
 * versions that kafkajs 2.x uses with the mock are handled.
 */

const API = { Produce: 0, Metadata: 3, FindCoordinator: 10, ApiVersions: 18, CreateTopics: 19 } as const;
const MAX_VERSION: Record<number, number> = { [API.Metadata]: 2, [API.FindCoordinator]: 2 };
const CREATE_TOPICS_VERSIONS = { min: 0, max: 3 };
const ERR = {
  NONE: 0,
  UNKNOWN_SERVER_ERROR: -1,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REQUEST: 42,
} as const;

export type CreateTopicFn = (name: string, partitions: number, replicationFactor: number) => Promise<void>;

export interface CreateTopicsProxy {
  /** Proxy bootstrap addresses, one per mock broker, in the same order. */
  brokers: string[];
  close(): Promise<void>;
}

/** A cursor over a Kafka protocol buffer (big-endian, non-flexible encodings). */
class Reader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
  ) {}
  int8(): number {
    return this.buf.readInt8((this.pos += 1) - 1);
  }
  int16(): number {
    return this.buf.readInt16BE((this.pos += 2) - 2);
  }
  int32(): number {
    return this.buf.readInt32BE((this.pos += 4) - 4);
  }
  string(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
  rest(): Buffer {
    return this.buf.subarray(this.pos);
  }
}

class Writer {
  private readonly parts: Buffer[] = [];
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    this.int16(b.length);
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  /** The message with its int32 size prefix. */
  frame(): Buffer {
    const body = Buffer.concat(this.parts);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    return Buffer.concat([size, body]);
  }
}

/** Splits a stream into size-prefixed Kafka messages (without their prefix). */
function framer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (pending.length < 4 + size) break;
      const frame = pending.subarray(4, 4 + size);
      pending = pending.subarray(4 + size);
      onFrame(frame);
    }
  };
}

interface Slot {
  apiKey: number;
  apiVersion: number;
  /** Answered by the upstream broker (in request order), or here. */
  forwarded: boolean;
  response?: Buffer;
}

interface CreateRequestTopic {
  name: string;
  partitions: number;
  replicationFactor: number;
  assignments: number;
}

function parseCreateTopics(r: Reader, version: number): { topics: CreateRequestTopic[]; validateOnly: boolean } {
  const topics: CreateRequestTopic[] = [];
  for (let n = r.int32(); n > 0; n--) {
    const name = r.string() ?? '';
    const partitions = r.int32();
    const replicationFactor = r.int16();
    const assignments = r.int32();
    for (let a = 0; a < assignments; a++) {
      r.int32();
      for (let replicas = r.int32(); replicas > 0; replicas--) r.int32();
    }
    for (let c = r.int32(); c > 0; c--) {
      r.string();
      r.string();
    }
    topics.push({ name, partitions, replicationFactor, assignments });
  }
  r.int32(); // timeout
  const validateOnly = version >= 1 ? r.int8() !== 0 : false;
  return { topics, validateOnly };
}

/**
 * Starts one proxy per mock broker (`upstream`, `host:port` in broker order). `createTopic` creates a topic in the
 * mock and rejects with a message containing "already exists" when it does.
 */
export async function startCreateTopicsProxy(upstream: string[], createTopic: CreateTopicFn): Promise<CreateTopicsProxy> {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  /** upstream `host:port` → proxy port */
  const proxyPort = new Map<string, number>();
  // Topic creation is serialized, so concurrent creators of one topic see TOPIC_ALREADY_EXISTS like on a broker.
  let creating: Promise<unknown> = Promise.resolve();

  const mapAddress = (host: string, port: number): { host: string; port: number } => {
    const mapped = proxyPort.get(`${host}:${port}`);
    return mapped === undefined ? { host, port } : { host: '127.0.0.1', port: mapped };
  };

  const rewriteApiVersions = (frame: Buffer, version: number): Buffer => {
    if (version > 2) return frame;
    const r = new Reader(frame);
    const correlationId = r.int32();
    const errorCode = r.int16();
    if (errorCode !== ERR.NONE) return frame;
    const apis: { key: number; min: number; max: number }[] = [];
    for (let n = r.int32(); n > 0; n--) apis.push({ key: r.int16(), min: r.int16(), max: r.int16() });
    const tail = r.rest(); // throttle_time_ms (v1+)
    for (const api of apis) {
      const cap = MAX_VERSION[api.key];
      if (cap !== undefined) api.max = Math.min(api.max, cap);
    }
    if (!apis.some((a) => a.key === API.CreateTopics)) apis.push({ key: API.CreateTopics, ...CREATE_TOPICS_VERSIONS });
    const w = new Writer().int32(correlationId).int16(errorCode).int32(apis.length);
    for (const a of apis) w.int16(a.key).int16(a.min).int16(a.max);
    return w.bytes(tail).frame().subarray(4);
  };

  const rewriteMetadata = (frame: Buffer, version: number): Buffer => {
    if (version > 2) return frame;
    const r = new Reader(frame);
    const w = new Writer().int32(r.int32());
    const brokers: number[] = [];
    const count = r.int32();
    w.int32(count);
    for (let n = 0; n < count; n++) {
      const nodeId = r.int32();
      const { host, port } = mapAddress(r.string() ?? '', r.int32());
      brokers.push(nodeId);
      w.int32(nodeId).string(host).int32(port);
      if (version >= 1) w.string(r.string());
    }
    if (version >= 2) w.string(r.string()); // cluster_id
    if (version >= 1) {
      const controller = r.int32();
      w.int32(brokers.includes(controller) || brokers.length === 0 ? controller : Math.min(...brokers));
    }
    return w.bytes(r.rest()).frame().subarray(4);
  };

  const rewriteFindCoordinator = (frame: Buffer, version: number): Buffer => {
    if (version > 2) return frame;
    const r = new Reader(frame);
    const w = new Writer().int32(r.int32());
    if (version >= 1) w.int32(r.int32()); // throttle_time_ms
    w.int16(r.int16());
    if (version >= 1) w.string(r.string());
    w.int32(r.int32()); // node_id
    const { host, port } = mapAddress(r.string() ?? '', r.int32());
    return w.string(host).int32(port).bytes(r.rest()).frame().subarray(4);
  };

  const answerCreateTopics = async (request: Reader, version: number, correlationId: number): Promise<Buffer> => {
    const { topics, validateOnly } = parseCreateTopics(request, version);
    const results: { name: string; code: number; message: string | null }[] = [];
    for (const t of topics) {
      let code: number = ERR.NONE;
      let message: string | null = null;
      if (t.assignments > 0) [code, message] = [ERR.INVALID_REQUEST, 'replica assignments are not supported by the mock'];
      else if (t.partitions < 1) [code, message] = [ERR.INVALID_PARTITIONS, `invalid partition count ${t.partitions}`];
      else if (t.replicationFactor < 1 || t.replicationFactor > upstream.length) {
        [code, message] = [ERR.INVALID_REPLICATION_FACTOR, `replication factor ${t.replicationFactor} with ${upstream.length} brokers`];
      } else if (!validateOnly) {
        const attempt = creating.then(() => createTopic(t.name, t.partitions, t.replicationFactor));
        creating = attempt.catch(() => undefined);
        try {
          await attempt;
        } catch (e) {
          const text = (e as Error).message;
          [code, message] = /already exists/i.test(text) ? [ERR.TOPIC_ALREADY_EXISTS, `topic '${t.name}' already exists`] : [ERR.UNKNOWN_SERVER_ERROR, text];
        }
      }
      results.push({ name: t.name, code, message });
    }
    const w = new Writer().int32(correlationId);
    if (version >= 2) w.int32(0); // throttle_time_ms
    w.int32(results.length);
    for (const res of results) {
      w.string(res.name).int16(res.code);
      if (version >= 1) w.string(res.message);
    }
    return w.frame().subarray(4);
  };

  const serve = (target: { host: string; port: number }) => (client: net.Socket) => {
    sockets.add(client);
    const broker = net.connect(target.port, target.host);
    sockets.add(broker);
    const queue: Slot[] = [];
    const flush = () => {
      while (queue.length > 0 && queue[0].response) {
        const { response } = queue.shift() as Slot & { response: Buffer };
        const size = Buffer.alloc(4);
        size.writeInt32BE(response.length);
        client.write(Buffer.concat([size, response]));
      }
    };
    const end = () => {
      client.destroy();
      broker.destroy();
      sockets.delete(client);
      sockets.delete(broker);
    };
    client.on('error', end).on('close', end);
    broker.on('error', end).on('close', end);

    client.on(
      'data',
      framer((frame) => {
        const r = new Reader(frame);
        const apiKey = r.int16();
        const apiVersion = r.int16();
        const correlationId = r.int32();
        r.string(); // client_id
        if (apiKey === API.CreateTopics && apiVersion <= CREATE_TOPICS_VERSIONS.max) {
          const slot: Slot = { apiKey, apiVersion, forwarded: false };
          queue.push(slot);
          answerCreateTopics(r, apiVersion, correlationId).then(
            (response) => {
              slot.response = response;
              flush();
            },
            () => end(),
          );
          return;
        }
        const size = Buffer.alloc(4);
        size.writeInt32BE(frame.length);
        broker.write(Buffer.concat([size, frame]));
        // A produce request with acks=0 gets no response.
        if (apiKey === API.Produce) {
          if (apiVersion >= 3) r.string(); // transactional_id
          if (r.int16() === 0) return;
        }
        queue.push({ apiKey, apiVersion, forwarded: true });
      }),
    );

    broker.on(
      'data',
      framer((frame) => {
        const slot = queue.find((s) => s.forwarded && !s.response);
        if (!slot) {
          end();
          return;
        }
        if (slot.apiKey === API.ApiVersions) slot.response = rewriteApiVersions(frame, slot.apiVersion);
        else if (slot.apiKey === API.Metadata) slot.response = rewriteMetadata(frame, slot.apiVersion);
        else if (slot.apiKey === API.FindCoordinator) slot.response = rewriteFindCoordinator(frame, slot.apiVersion);
        else slot.response = frame;
        flush();
      }),
    );
  };

  const brokers: string[] = [];
  for (const address of upstream) {
    const i = address.lastIndexOf(':');
    const target = { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
    const server = net.createServer(serve(target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    servers.push(server);
    const { port } = server.address() as net.AddressInfo;
    proxyPort.set(address, port);
    brokers.push(`127.0.0.1:${port}`);
  }

  return {
    brokers,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
