import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { startCreateTopicsProxy, type CreateTopicsProxy } from './create-topics-proxy';

/**
 * Kafka for tests: librdkafka's mock cluster (real Kafka protocol, in memory) run by the small C program in
 * tools/kafka-mock, compiled on first use into tmp/kafka-mock. See DESIGN.md for what the mock can and cannot do
 * (its controller id is 0, so admin.createTopics and the idempotent producer do not work: topics are created here,
 * or, with `createTopicsApi`, through a proxy that answers CreateTopics for the mock: create-topics-proxy.ts).
 */

const repoRoot = path.resolve(__dirname, '../../../..');
const source = path.join(repoRoot, 'tools/kafka-mock/mock-cluster.c');
const binary = path.join(repoRoot, 'tmp/kafka-mock/mock-cluster');
const INSTALL_HINT =
  'install a C compiler and librdkafka headers (Debian: apt-get install -y gcc pkg-config librdkafka-dev)';

export interface KafkaMockOptions {
  /** Number of brokers, ids 1..brokers. Default 3. */
  brokers?: number;
  /** Topics created before the cluster is announced. */
  topics?: { name: string; partitions: number }[];
  /**
   * Serve the CreateTopics admin API (and name a real broker as controller), which the mock lacks, so clients can
   * create topics themselves: `brokers` are then addresses of a protocol proxy in front of the mock brokers.
   */
  createTopicsApi?: boolean;
}

export interface KafkaMockCluster {
  /** Bootstrap servers, `host:port` per broker. */
  brokers: string[];
  /** Disconnects a broker (or every broker) and refuses new connections; leaders do not move. */
  brokerDown(id: number | 'all'): Promise<void>;
  brokerUp(id: number | 'all'): Promise<void>;
  /**
   * Creates a topic now (the mock has no CreateTopics admin API, and clients here do not auto-create); replicas
   * default to the broker count, at most 3. Rejects with "Topic already exists" when it does.
   */
  createTopic(name: string, partitions: number, replicationFactor?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface KafkaAvailability {
  available: boolean;
  /** What was found, or what is missing and how to install it. */
  reason: string;
}

function isUpToDate(): boolean {
  if (!fs.existsSync(binary)) return false;
  return fs.statSync(binary).mtimeMs >= fs.statSync(source).mtimeMs;
}

function linkFlags(): string[] {
  const pc = spawnSync('pkg-config', ['--cflags', '--libs', 'rdkafka'], {
    encoding: 'utf8',
  });
  if (pc.status === 0 && pc.stdout.trim()) return pc.stdout.trim().split(/\s+/);
  return ['-lrdkafka'];
}

/** Compiles the mock cluster program if it is missing or older than its source. Throws with the compiler output. */
export function buildKafkaMock(): string {
  if (isUpToDate()) return binary;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  // Parallel Jest workers may build at once: each compiles to its own file, then renames atomically.
  const out = `${binary}.${process.pid}.tmp`;
  const cc = process.env.CC ?? 'gcc';
  const res = spawnSync(cc, ['-O2', '-o', out, source, ...linkFlags()], {
    encoding: 'utf8',
  });
  if (res.error || res.status !== 0) {
    fs.rmSync(out, { force: true });
    const detail = res.error ? res.error.message : res.stderr.trim();
    throw new Error(`Kafka mock cluster cannot be built (${cc} ${source}): ${detail}\nTo fix: ${INSTALL_HINT}`);
  }
  fs.renameSync(out, binary);
  return binary;
}

/** Tells whether the Kafka mock cluster can run here (building it if needed), and why not. */
export function kafkaAvailable(): KafkaAvailability {
  try {
    const bin = buildKafkaMock();
    return { available: true, reason: `mock cluster program at ${bin}` };
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
}

/**
 * Starts an in-memory Kafka cluster with the given topics. A missing compiler or librdkafka makes this throw
 * (tests fail, never skip), with CI=true or without: the message says what to install.
 */
export async function startKafkaMock(opts: KafkaMockOptions): Promise<KafkaMockCluster> {
  const brokerCount = opts.brokers ?? 3;
  let bin: string;
  try {
    bin = buildKafkaMock();
  } catch (e) {
    const ci = process.env.CI === 'true' ? ' (CI=true: the Kafka harness is required)' : '';
    throw new Error(`${(e as Error).message}${ci}`);
  }
  const args = [String(brokerCount), ...(opts.topics ?? []).map((t) => `${t.name}:${t.partitions}`)];
  const child: ChildProcessWithoutNullStreams = spawn(bin, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));

  const lines = createInterface({ input: child.stdout });
  const waiting: {
    resolve: (line: string) => void;
    reject: (e: Error) => void;
  }[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead: Error | undefined;
  lines.on('line', (line) => waiting.shift()?.resolve(line));
  child.once('exit', (code, signal) => {
    dead = new Error(`kafka mock cluster exited (code ${code}, signal ${signal}): ${stderr.trim()}`);
    for (const w of waiting.splice(0)) w.reject(dead);
  });
  child.once('error', (e) => {
    dead = e;
    for (const w of waiting.splice(0)) w.reject(e);
  });
  const nextLine = (): Promise<string> =>
    dead ? Promise.reject(dead) : new Promise((resolve, reject) => waiting.push({ resolve, reject }));

  const first = await nextLine();
  const match = /^bootstrap (\S+)$/.exec(first);
  if (!match) {
    child.kill();
    throw new Error(`kafka mock cluster: unexpected first line '${first}'`);
  }
  const mockBrokers = match[1].split(',');

  // Commands are answered one line each, in order, so a queue of waiters pairs them up.
  const command = async (cmd: string): Promise<void> => {
    const answer = nextLine();
    child.stdin.write(`${cmd}\n`);
    const line = await answer;
    if (!line.startsWith('ok ')) throw new Error(`kafka mock cluster: ${line}`);
  };

  const createTopic = (name: string, partitions: number, replicationFactor?: number): Promise<void> => {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) return Promise.reject(new Error(`invalid topic name '${name}'`));
    return command(`topic ${name} ${partitions}${replicationFactor === undefined ? '' : ` ${replicationFactor}`}`);
  };
  let proxy: CreateTopicsProxy | undefined;
  if (opts.createTopicsApi) {
    try {
      proxy = await startCreateTopicsProxy(mockBrokers, createTopic);
    } catch (e) {
      child.kill();
      throw e;
    }
  }

  return {
    brokers: proxy?.brokers ?? mockBrokers,
    brokerDown: (id) => command(`down ${id}`),
    brokerUp: (id) => command(`up ${id}`),
    createTopic,
    stop: async () => {
      await proxy?.close();
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end('quit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
