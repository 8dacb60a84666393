import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  receivedAt: number;
}

export type Responder = (request: ReceivedRequest, response: ServerResponse) => void | Promise<void>;

/** A real HTTP receiver on loopback that records every request; its answer can change mid-test. */
export interface TestReceiver {
  url: string;
  requests: ReceivedRequest[];
  respondWith: (responder: Responder) => void;
  waitForRequests: (count: number, timeoutMs?: number) => Promise<ReceivedRequest[]>;
  close: () => Promise<void>;
}

export const answer = (status: number, body = '', headers: Record<string, string> = {}): Responder => (_request, response) => {
  response.writeHead(status, headers);
  response.end(body);
};

export async function startReceiver(initial: Responder = answer(200, 'ok')): Promise<TestReceiver> {
  let responder = initial;
  const requests: ReceivedRequest[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer(async (incoming: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const request: ReceivedRequest = {
      method: incoming.method ?? '',
      path: incoming.url ?? '',
      headers: Object.fromEntries(Object.entries(incoming.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : (value ?? '')])),
      body: Buffer.concat(chunks).toString('utf8'),
      receivedAt: Date.now(),
    };
    requests.push(request);
    for (const waiter of waiters.filter((w) => requests.length >= w.count)) waiter.resolve();
    await responder(request, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    requests,
    respondWith: (next) => {
      responder = next;
    },
    waitForRequests: (count, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        if (requests.length >= count) return resolve(requests.slice());
        const timer = setTimeout(() => reject(new Error(`receiver got ${requests.length} of ${count} requests within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ count, resolve: () => (clearTimeout(timer), resolve(requests.slice())) });
      }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Receivers started by one test file, closed together in afterAll. */
export function receiverPool() {
  const started: TestReceiver[] = [];
  return {
    start: async (initial?: Responder) => {
      const receiver = await startReceiver(initial);
      started.push(receiver);
      return receiver;
    },
    closeAll: () => Promise.all(started.map((receiver) => receiver.close())),
  };
}
