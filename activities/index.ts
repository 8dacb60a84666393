import type { Client } from '@temporalio/client';
import type { Config } from '../src/config.js';
import type { Sql } from '../src/db/client.js';
import type { Logger } from '../src/logger.js';
import { createSecretBox, type SecretBox } from '../src/core/crypto.js';
import type { SignatureProfile } from '../src/core/signing.js';
import { createDeliveryAgent } from '../src/core/http-delivery.js';
import { urlPolicyFromConfig } from '../src/core/url-policy.js';
import type { Dispatcher } from 'undici';
import type { DispatchDeps } from '../src/core/dispatch.js';
import { createChannelActivities } from './channels.js';
import { createDeliveryActivities } from './delivery.js';
import { createFanoutActivities } from './fanout.js';
import { createHealthActivities } from './health.js';
import { createRecoverActivities } from './recover.js';
import { createReplayActivities } from './replay.js';

export interface ActivityDeps {
  sql: Sql;
  config: Config;
  temporal: Client;
  logger: Logger;
  secretBox: SecretBox;
  /** Sends webhooks under the URL policy (dev mode, HERALD_URL_ALLOWLIST), checked at connect time. */
  httpAgent: Dispatcher;
  extraSignatureProfiles?: Record<string, SignatureProfile>;
  /** Reports an endpoint health workflow handles before continuing as new (tests make it small). */
  healthReportsPerRun?: number;
  /** Aborted when a stopping worker's grace time is over: local first attempts still in flight end as interrupted. */
  shutdownSignal?: AbortSignal;
  /** Starting deliveries from activities (fan-out, notices, recoveries). */
  dispatch: DispatchDeps;
}

/** All of Herald's activities, bound to their dependencies (samples-typescript: activities-dependency-injection). */
export function createActivities(
  deps: Omit<ActivityDeps, 'secretBox' | 'httpAgent' | 'dispatch'> & {
    secretBox?: SecretBox;
    httpAgent?: Dispatcher;
    /** `temporal` runs on this worker's NativeConnection, so the workflows activities start can start eagerly. */
    eagerWorkflowStart?: boolean;
  },
) {
  const { eagerWorkflowStart, ...given } = deps;
  const full: ActivityDeps = {
    extraSignatureProfiles: deps.config.HERALD_SIGNATURE_PROFILES,
    ...given,
    dispatch: { sql: deps.sql, temporal: deps.temporal, taskQueue: deps.config.TEMPORAL_TASK_QUEUE, eagerStart: eagerWorkflowStart, channelDigestWindowMs: deps.config.HERALD_CHANNEL_DIGEST_WINDOW_MS },
    secretBox: deps.secretBox ?? createSecretBox(deps.config.HERALD_ENCRYPTION_KEY),
    httpAgent: deps.httpAgent ?? createDeliveryAgent(urlPolicyFromConfig(deps.config)),
  };
  return {
    async ping(): Promise<string> {
      await full.sql`select 1`;
      return 'pong';
    },
    ...createChannelActivities(full),
    ...createDeliveryActivities(full),
    ...createFanoutActivities(full),
    ...createHealthActivities(full),
    ...createRecoverActivities(full),
    ...createReplayActivities(full),
  };
}

export type HeraldActivities = ReturnType<typeof createActivities>;
