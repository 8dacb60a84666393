import type { Client } from '@temporalio/client';
import type { Config } from '../src/config.js';
import type { Sql } from '../src/db/client.js';
import type { Logger } from '../src/logger.js';

export interface ActivityDeps {
  sql: Sql;
  config: Config;
  temporal: Client;
  logger: Logger;
}

/** All of Herald's activities, bound to their dependencies (samples-typescript: activities-dependency-injection). */
export function createActivities(deps: ActivityDeps) {
  return {
    async ping(): Promise<string> {
      await deps.sql`select 1`;
      return 'pong';
    },
  };
}

export type HeraldActivities = ReturnType<typeof createActivities>;
