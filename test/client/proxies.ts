import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

/** Test doubles that stand between the client and a broker. */

/** A running stand-in server. */
export interface StandIn {
  readonly url: string;
  /** Requests received, as `METHOD path`. */
  readonly seen: string[];
  close(): Promise<void>;
}

async function listen(server: Server, seen: string[]): Promise<StandIn> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A proxy to `upstream` that passes every request on and, when `dropAnswer` says so of the
 * upstream's answer, destroys the connection instead of relaying it: a lost response.
 */
export async function lossyProxy(
  upstream: string,
  dropAnswer: (method: string, path: string, status: number) => boolean,
): Promise<StandIn> {
  const seen: string[] = [];
  const server = createServer(async (req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    seen.push(`${method} ${path}`);
    const body = await bodyOf(req);
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'accept']) {
      const v = req.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    const answer = await request(`${upstream}${path}`, {
      method: method as 'GET',
      headers,
      ...(body.length > 0 ? { body } : {}),
    });
    const bytes = Buffer.from(await answer.body.arrayBuffer());
    if (dropAnswer(method, path, answer.statusCode)) {
      req.socket.destroy();
      return;
    }
    const type = answer.headers['content-type'];
    res.writeHead(answer.statusCode, typeof type === 'string' ? { 'content-type': type } : {});
    res.end(bytes);
  });
  return listen(server, seen);
}

/** A broker that cannot forward: answers everything with 503 NOT_LEADER naming `leaderUrl`. */
export async function notLeaderBroker(leaderId: number, leaderUrl: string): Promise<StandIn> {
  const seen: string[] = [];
  const server = createServer(async (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    await bodyOf(req);
    res.writeHead(503, { 'content-type': 'application/json; charset=utf-8' });
    res.end(
      JSON.stringify({
        error_code: 50301,
        code: 'NOT_LEADER',
        message: 'not the leader',
        retriable: true,
        leader_id: leaderId,
        leader_url: leaderUrl,
      }),
    );
  });
  return listen(server, seen);
}
