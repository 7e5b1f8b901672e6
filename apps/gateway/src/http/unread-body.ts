import type { IncomingMessage, ServerResponse } from 'node:http';

const DISCARDING = Symbol('tessera.gateway.discarding');
/** How often the bytes read are checked against the cap: Node's parser may consume the socket natively, without events. */
const CHECK_EVERY_MS = 5;
/** A refused upload is read and discarded up to this many times the body limit, then the connection is cut. */
const DISCARD_FACTOR = 16;
/** However slowly it comes, a body the gateway has refused gets this long to arrive. */
const LINGER_MS = 10_000;

/**
 * Reads and throws away what a client is still uploading after the gateway has answered without forwarding the
 * body (a lingering close): closing at once would leave its bytes unread, the kernel would answer them with a reset,
 * and a client still writing would often see that reset instead of the answer. Node alone would read any amount,
 * for as long as the client keeps sending; past `capBytes`, or LINGER_MS, the connection is cut. A body that ends
 * within them leaves the connection usable (its framing is intact).
 */
export function discardUnreadBody(req: IncomingMessage, capBytes: number): void {
  const marked = req as IncomingMessage & { [DISCARDING]?: true };
  const socket = req.socket;
  // Nothing more will arrive on a connection that is gone (the client hung up while the gateway decided).
  if (req.complete || marked[DISCARDING] || socket.destroyed) return;
  marked[DISCARDING] = true;
  const start = socket.bytesRead;
  const deadline = Date.now() + LINGER_MS;
  const check = setInterval(() => {
    // Complete: the body ended within the limits (a request Node dumps may not emit 'end').
    if (req.complete || socket.destroyed) return stop();
    if (socket.bytesRead - start > capBytes || Date.now() > deadline) {
      socket.destroy();
      stop();
    }
  }, CHECK_EVERY_MS);
  function stop(): void {
    clearInterval(check);
    req.off('end', stop);
    req.off('close', stop);
    socket.off('close', stop);
  }
  req.once('end', stop);
  req.once('close', stop);
  socket.once('close', stop);
  req.resume();
}

/**
 * Express middleware: whatever answered the request (the proxy's 413, a refusal before the proxy, the gateway's own
 * routes, a 404), a body still arriving when the answer is done is discarded within 16 times `bodyLimitBytes`.
 */
export function capUnreadBodies(bodyLimitBytes: number) {
  const capBytes = bodyLimitBytes * DISCARD_FACTOR;
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    res.once('finish', () => discardUnreadBody(req, capBytes));
    next();
  };
}
