/**
 * What every SDK script in scripts/ shares: a Temporal client with the worker's settings (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, TEMPORAL_API_KEY / TEMPORAL_TLS_*), defaulting to what `herald dev` wrote to
 * .herald/dev.json (HERALD_HOME), and one way to end: `<script>: <message>` on stderr and exit code 2 on an error.
 */
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { configSchema, parseEnv, type Config } from '../../src/config.js';
import { readDevInfo } from '../../src/stack/dev-files.js';
import { connectTemporalClient } from '../../src/temporal/connection.js';

const temporalSettings = configSchema.pick({
  TEMPORAL_ADDRESS: true,
  TEMPORAL_NAMESPACE: true,
  TEMPORAL_TASK_QUEUE: true,
  TEMPORAL_API_KEY: true,
  TEMPORAL_TLS: true,
  TEMPORAL_TLS_CERT_PATH: true,
  TEMPORAL_TLS_KEY_PATH: true,
  TEMPORAL_TLS_CA_PATH: true,
});
export type TemporalSettings = ReturnType<typeof temporalSettings.parse>;

/** The environment's Temporal settings, .herald/dev.json filling in the address and namespace. */
export async function temporalSettingsFromEnv(): Promise<TemporalSettings> {
  const dev = await readDevInfo(path.resolve(process.env.HERALD_HOME ?? '.herald'));
  return parseEnv(temporalSettings, { TEMPORAL_ADDRESS: dev?.temporal_address, TEMPORAL_NAMESPACE: dev?.temporal_namespace, ...process.env });
}

/** The script's arguments (node:util parseArgs), or its usage on stderr and exit code 2 when a positional is missing. */
export function scriptArgs<O extends NonNullable<ParseArgsConfig['options']>>(usage: string, positionals: number, options = {} as O) {
  const parsed = parseArgs({ allowPositionals: true, options });
  if (parsed.positionals.length < positionals) {
    console.error(`usage: node --import tsx ${usage}`);
    process.exit(2);
  }
  return parsed;
}

/**
 * Connects, runs `body`, and closes the connection. An error is one line on stderr, `<script>: <message>`, and exit
 * code 2; a failed workflow is named by its cause (the reason, not "Workflow execution failed").
 */
export async function withTemporal(script: string, body: (temporal: Client, settings: TemporalSettings) => Promise<void>): Promise<void> {
  let temporal: Client | undefined;
  try {
    const settings = await temporalSettingsFromEnv();
    // connectTemporalClient reads only the TEMPORAL_* settings.
    temporal = await connectTemporalClient(settings as Config);
    await body(temporal, settings);
  } catch (error) {
    const reason = error instanceof WorkflowFailedError && error.cause ? error.cause : error;
    console.error(`${script}: ${reason instanceof Error ? reason.message : String(reason)}`);
    process.exitCode = 2;
  } finally {
    await temporal?.connection.close();
  }
}
