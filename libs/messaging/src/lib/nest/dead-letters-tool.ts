import { isUuid } from '@tessera/contracts';
import { callInternal, printAnswer, serviceKey, serviceUrl, type InternalAnswer } from '@tessera/service-kit';

/** A replay runs handlers to the end before it answers: a long backlog of letters takes a while. */
const REPLAY_TIMEOUT_MS = 600_000;

const USAGE = `usage: <service>:dead-letters [command]
  list [open|resolved|all]   the consumer group's letters, oldest first (default: open), every page
  show <id>                  one letter, with its event and the error that parked it
  replay <id>                runs the open letters of that letter's key, in order, stopping at one that fails again
  replay-all                 the same for every key with open letters
  discard <id>               resolves the first open letter of its key without running it
exits 0 on success, 1 when the service refuses or a replay stopped at a letter that failed again, 2 on bad usage
`;

type Call = (method: 'GET' | 'POST', path: string, timeoutMs?: number) => Promise<InternalAnswer>;

/** Every page of the list, as one answer: an operator wants the whole backlog, not its first page. */
async function listAll(call: Call, status: string): Promise<InternalAnswer> {
  const items: unknown[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '100', ...(status === 'all' ? {} : { status }), ...(cursor ? { cursor } : {}) });
    const answer = await call('GET', `/internal/dead-letters?${query}`);
    if (answer.status !== 200) return answer;
    const page = answer.body as { items: unknown[]; nextCursor: string | null };
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return { status: 200, body: { items } };
}

export interface DeadLettersTarget {
  baseUrl: string;
  /** The key calls to that service are signed with (its own: `serviceKey`). */
  internalTokenSecret: string;
  /** The variable that sets `baseUrl`, named when the service cannot be reached. */
  urlVariable?: string;
}

/**
 * Prints a replay's answer. It is 200 even when the replay stopped at a letter that failed again, or left keys that
 * another replay was running: a script must not take that for done, so the exit code is 1 then.
 */
function printReplay(answer: InternalAnswer): number {
  const code = printAnswer(answer);
  if (code !== 0) return code;
  const body = answer.body as { failed?: unknown; busy?: number };
  const failed = Array.isArray(body.failed) ? body.failed.length > 0 : body.failed != null;
  return failed || (body.busy ?? 0) > 0 ? 1 : 0;
}

/**
 * Runs one command of the tool (argv without node and the script) against the service `target` names; the exit code.
 * `target` is asked only for a valid command: bad usage says so even where no secret or URL can be found.
 */
export async function runDeadLettersCommand(service: string, argv: string[], target: () => DeadLettersTarget): Promise<number> {
  const [command = 'list', arg, ...rest] = argv;
  const needsId = command === 'show' || command === 'replay' || command === 'discard';
  const valid =
    rest.length === 0 &&
    ((command === 'list' && (arg === undefined || ['open', 'resolved', 'all'].includes(arg))) ||
      (command === 'replay-all' && arg === undefined) ||
      (needsId && isUuid(arg)));
  if (!valid) {
    process.stderr.write(USAGE.replace('<service>', service));
    return 2;
  }
  const to = target();
  const call: Call = (method, path, timeoutMs) => callInternal({ ...to, method, path, timeoutMs, ...(method === 'POST' ? { body: {} } : {}) });
  switch (command) {
    case 'list':
      return printAnswer(await listAll(call, arg ?? 'open'));
    case 'show':
      return printAnswer(await call('GET', `/internal/dead-letters/${arg}`));
    case 'replay':
      return printReplay(await call('POST', `/internal/dead-letters/${arg}/replay`, REPLAY_TIMEOUT_MS));
    case 'replay-all':
      return printReplay(await call('POST', '/internal/dead-letters/replay', REPLAY_TIMEOUT_MS));
    default:
      return printAnswer(await call('POST', `/internal/dead-letters/${arg}/discard`));
  }
}

/**
 * The `main` of a service's dead-letters tool (`nx run <service>:dead-letters --args="..."`, under
 * `runOperatorTool`): calls the service's `/internal/dead-letters` routes directly with its internal key, at
 * `<SERVICE>_URL`, else the loopback at `<SERVICE>_PORT` or `defaultPort`; prints the answer.
 */
export function deadLettersToolMain(opts: { service: string; defaultPort: number }): (argv: string[]) => Promise<number> {
  return (argv) =>
    runDeadLettersCommand(opts.service, argv, () => {
      const { url, variable } = serviceUrl(opts.service, opts.defaultPort);
      return { baseUrl: url, urlVariable: variable, internalTokenSecret: serviceKey(opts.service, process.env) };
    });
}
