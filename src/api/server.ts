import { once } from 'node:events';
import type { Server } from 'node:http';
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
  const server = app.listen(config.HERALD_API_PORT, config.HERALD_API_HOST);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.HERALD_API_PORT;
  const url = `http://${config.HERALD_API_HOST}:${port}`;
  logger.info({ url }, 'API listening');
  return {
    server,
    url,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await temporal.connection.close();
      await sql.end({ timeout: 5 });
    },
  };
}
