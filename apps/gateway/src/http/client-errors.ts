import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { PROBLEM_CONTENT_TYPE } from '@tessera/service-kit';
import { problemBody, sendProblem } from './problem';

/**
 * Requests Node refuses before any handler sees them (headers too large, a malformed request line or length, an
 * `Expect` it cannot meet) get problem+json like every other refusal, instead of Node's bare status line.
 */
export function answerClientErrorsWithProblems(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (error.code === 'ECONNRESET' || !socket.writable || started) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const detail =
      status === 431 ? 'The request headers are too large' : status === 408 ? 'The request took too long to arrive' : 'The request is not valid HTTP';
    const body = problemBody({ status, detail });
    // Written, then destroyed as Node's own handler does: ended only, the connection would stay half open for as long
    // as the client kept it, out of reach of the server's timeouts.
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    socket.destroy();
  });
  server.on('checkExpectation', (req, res) => {
    res.setHeader('connection', 'close');
    sendProblem(res, { status: 417, detail: `Expect: ${String(req.headers.expect)} is not supported` }, req.url?.split('?')[0]);
  });
}
