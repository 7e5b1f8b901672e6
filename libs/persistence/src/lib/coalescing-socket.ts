import { Socket } from 'node:net';

/**
 * A socket for node-postgres (its `stream` option) that gathers everything written to it during one turn of the
 * event loop into a single write. In pipeline mode a transaction's statements (BEGIN and the tenant, the inserts,
 * COMMIT) are each written as soon as they are issued, usually within the same turn; node-postgres corks only the
 * messages of one statement, so each statement still cost a writev of its own, and PostgreSQL a read and a wake-up.
 * On this platform's virtual machines system calls and wake-ups are dear: one write instead of five per transaction
 * saves 7–24 % of Node's CPU per transaction (tools/bench/pg-writes.bench.ts). Held writes go out in the check phase
 * of the same turn (setImmediate), before the loop waits for I/O, so no statement waits for anything but the code
 * already running.
 */
export function coalescingSocket(): Socket {
  const socket = new Socket();
  let held = false;
  const release = () => {
    held = false;
    socket.uncork();
  };
  // Installed once connected: net.Socket#connect puts back the prototype's write.
  socket.once('connect', () => {
    const write = socket.write;
    socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
      if (!held) {
        held = true;
        socket.cork();
        setImmediate(release);
      }
      return write.apply(this, args);
    } as Socket['write'];
  });
  return socket;
}
