import { connect } from 'node:net';

/** A response read off a raw socket. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** How to send the request bytes. */
export interface RawSendOptions {
  /** Write this many bytes, then destroy the socket: resolves `undefined` (no answer expected). */
  readonly abortAfter?: number;
  /** Write the bytes in this many pieces, one per timer turn (a slow upload). */
  readonly pieces?: number;
  /** Give up (reject) when the server has not closed the connection after this long (default 10 s). */
  readonly deadlineMs?: number;
}

/**
 * Send `request` (raw bytes: request line, headers, body) over a fresh TCP connection to
 * 127.0.0.1:`port` and read one response, skipping interim `1xx` ones. The server must close the
 * connection after answering (send `connection: close`). Rejects when it closes without a complete
 * answer.
 */
export function rawRequest(
  port: number,
  request: Buffer,
  options: RawSendOptions = {},
): Promise<RawResponse | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    let socketError: Error | undefined;
    const deadline = setTimeout(() => {
      const got = Buffer.concat(chunks).toString('latin1').slice(0, 300);
      reject(new Error(`no complete answer within the deadline; received ${JSON.stringify(got)}`));
      socket.destroy();
    }, options.deadlineMs ?? 10_000);
    socket.on('error', (err) => {
      socketError = err;
    });
    socket.on('close', () => {
      clearTimeout(deadline);
      if (options.abortAfter !== undefined) return resolve(undefined);
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (err) {
        reject(new Error(`${(err as Error).message} (socket error: ${socketError?.message ?? 'none'})`));
      }
    });
    socket.on('connect', async () => {
      if (options.abortAfter !== undefined) {
        socket.write(request.subarray(0, options.abortAfter), () => socket.destroy());
        return;
      }
      const pieces = Math.max(1, options.pieces ?? 1);
      const size = Math.ceil(request.length / pieces);
      for (let at = 0; at < request.length; at += size) {
        if (at > 0) await new Promise((r) => setImmediate(r));
        if (socket.destroyed) return;
        socket.write(request.subarray(at, at + size));
      }
    });
  });
}

/** Parse the first final response in `bytes` (which must end where the server closed). */
export function parseResponse(bytes: Buffer): RawResponse {
  let rest = bytes;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0)
      throw new Error(`incomplete response: ${JSON.stringify(rest.toString('latin1').slice(0, 200))}`);
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine ?? '');
    if (match === null) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
    const status = Number(match[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    rest = rest.subarray(end + 4);
    if (status >= 100 && status < 200) continue;
    const length = Number(headers['content-length'] ?? 0);
    if (headers['transfer-encoding'] !== undefined) throw new Error('unexpected chunked response');
    return { status, headers, body: rest.subarray(0, length) };
  }
}
