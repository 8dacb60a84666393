import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/**
 * Receivers that misbehave at the TCP level, on loopback: they read the request (headers and a
 * Content-Length body), then answer through `respond` with the raw socket. Each records what it did so
 * a test can check how Herald's client treated it.
 */
export interface HostileReceiver {
  url: string;
  /** Requests read completely. */
  requests: number;
  /** Response bytes written to the socket (accepted by the kernel), over all connections. */
  bytesSent: number;
  /** Connections closed, by either side. */
  closedConnections: number;
  close: () => Promise<void>;
}

type Respond = (socket: Socket, receiver: HostileReceiver) => void;

export async function startHostileReceiver(respond: Respond): Promise<HostileReceiver> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      receiver.closedConnections++;
    });
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length:\s*(\d+)/i.exec(buffered.subarray(0, end).toString('latin1'))?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      socket.off('data', onData);
      receiver.requests++;
      respond(socket, receiver);
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const receiver: HostileReceiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`,
    requests: 0,
    bytesSent: 0,
    closedConnections: 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}

const write = (socket: Socket, receiver: HostileReceiver, data: string | Buffer, then?: () => void) => {
  if (socket.destroyed) return false;
  receiver.bytesSent += Buffer.byteLength(data);
  return socket.write(data, then && (() => then()));
};

/** Sends its response one byte a second: the status line and headers too (`headers`), or only the body. */
export function tricklingReceiver(options: { trickle: 'headers' | 'body' }): Promise<HostileReceiver> {
  return startHostileReceiver((socket, receiver) => {
    const body = 'x'.repeat(1000);
    const head = `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n`;
    let pending = options.trickle === 'headers' ? head + body : body;
    if (options.trickle === 'body') write(socket, receiver, head);
    const timer = setInterval(() => {
      if (socket.destroyed || pending.length === 0) return clearInterval(timer);
      write(socket, receiver, pending.slice(0, 1));
      pending = pending.slice(1);
    }, 1000);
    socket.on('close', () => clearInterval(timer));
  });
}

/**
 * Announces `totalBytes` (1 GiB by default) and streams them as fast as the client reads, from one
 * reused chunk (nothing that size is ever in memory), until the client disconnects.
 */
export function hugeBodyReceiver(totalBytes = 1024 ** 3): Promise<HostileReceiver> {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  return startHostileReceiver((socket, receiver) => {
    write(socket, receiver, `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${totalBytes}\r\n\r\n`);
    let sent = 0;
    const pump = () => {
      while (!socket.destroyed && sent < totalBytes) {
        sent += chunk.length;
        if (!write(socket, receiver, chunk)) return void socket.once('drain', pump);
      }
    };
    pump();
  });
}

/** Reads the request and never answers. */
export function silentReceiver(): Promise<HostileReceiver> {
  return startHostileReceiver(() => {});
}

/** Closes the connection without an answer: a FIN (`destroy`) or a TCP RST (`reset`). */
export function resettingReceiver(how: 'destroy' | 'reset'): Promise<HostileReceiver> {
  return startHostileReceiver((socket) => (how === 'reset' ? socket.resetAndDestroy() : socket.destroy()));
}
