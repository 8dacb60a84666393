import { once } from 'node:events';
import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import { connectDatabase } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { createLogger } from '../logger.js';
import { connectTemporalClient } from '../temporal/connection.js';
import { createApp } from './app.js';

export interface RunningApi {
  server: Server;
  url: string;
  close: () => Promise<void>;
}

/** Starts the HTTP API; the returned close() stops accepting, drains in-flight requests and disconnects. */
export async function startApi(config: Config): Promise<RunningApi> {
  const logger = createLogger(config.HERALD_LOG_LEVEL, 'herald-api');
  const sql = connectDatabase(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE });
  await migrate(sql);
  const temporal = await connectTemporalClient(config);
  const app = createApp({ config, sql, temporal, logger });
  const server = createHttpServer(app, config).listen(config.HERALD_API_PORT, config.HERALD_API_HOST);
  const drain = drainOnClose(server, config.HERALD_SHUTDOWN_GRACE_MS);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.HERALD_API_PORT;
  const url = `http://${config.HERALD_API_HOST}:${port}`;
  logger.info({ url }, 'API listening');
  return {
    server,
    url,
    close: async () => {
      logger.info('stopping: draining in-flight requests');
      await drain();
      await temporal.connection.close();
      await sql.end({ timeout: 5 });
    },
  };
}

export type HttpTimeouts = Pick<Config, 'HERALD_HTTP_HEADERS_TIMEOUT_MS' | 'HERALD_HTTP_REQUEST_TIMEOUT_MS' | 'HERALD_HTTP_KEEP_ALIVE_TIMEOUT_MS'>;

/**
 * The API's HTTP server (not yet listening), with its timeouts from the config, so a client cannot hold a
 * connection open by sending slowly: the request's headers must arrive within HERALD_HTTP_HEADERS_TIMEOUT_MS and
 * the whole request within HERALD_HTTP_REQUEST_TIMEOUT_MS (Node answers 408 and closes the connection), and an idle
 * keep-alive connection is closed after HERALD_HTTP_KEEP_ALIVE_TIMEOUT_MS. Node checks the first two on an interval
 * (`connectionsCheckingInterval`, 30 s by default), which is set here to a fraction of the shortest timeout so a
 * timeout takes effect close to when it is due. The production API and the tests' stacks both start theirs here.
 */
export function createHttpServer(app: RequestListener, config: HttpTimeouts): Server {
  const requestTimeout = config.HERALD_HTTP_REQUEST_TIMEOUT_MS;
  // Node refuses a headers timeout longer than the request timeout; the request timeout bounds the headers too.
  const headersTimeout = Math.min(config.HERALD_HTTP_HEADERS_TIMEOUT_MS, requestTimeout);
  const connectionsCheckingInterval = Math.min(1000, Math.max(50, Math.floor(headersTimeout / 4)));
  const server = createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval }, app);
  server.keepAliveTimeout = config.HERALD_HTTP_KEEP_ALIVE_TIMEOUT_MS;
  return server;
}

/**
 * Returns a close() that stops accepting connections, lets requests in flight finish (their responses say
 * `Connection: close`, and each keep-alive connection is closed as soon as it is idle), and after `graceMs`
 * closes whatever is left. Node's own server.close() would keep idle keep-alive connections until they time out.
 */
function drainOnClose(server: Server, graceMs: number): () => Promise<void> {
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  const closeIdle = () => setImmediate(() => server.closeIdleConnections());
  server.prependListener('request', (_request, response: ServerResponse) => {
    inFlight.add(response);
    response.on('close', () => {
      inFlight.delete(response);
      if (draining) closeIdle();
    });
    if (draining) response.setHeader('connection', 'close');
  });
  return async () => {
    draining = true;
    for (const response of inFlight) if (!response.headersSent) response.setHeader('connection', 'close');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    await closed;
    clearTimeout(force);
  };
}
