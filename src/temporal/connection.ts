import { readFile } from 'node:fs/promises';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { Config } from '../config.js';

/** Options shared by the client Connection and the worker's NativeConnection. */
export async function temporalConnectionOptions(config: Config): Promise<ConnectionOptions & { apiKey?: string }> {
  const options: ConnectionOptions & { apiKey?: string } = { address: config.TEMPORAL_ADDRESS };
  if (config.TEMPORAL_API_KEY) {
    options.apiKey = config.TEMPORAL_API_KEY;
    options.tls = true;
  }
  if (config.TEMPORAL_TLS || config.TEMPORAL_TLS_CERT_PATH) {
    options.tls = {
      clientCertPair:
        config.TEMPORAL_TLS_CERT_PATH && config.TEMPORAL_TLS_KEY_PATH
          ? { crt: await readFile(config.TEMPORAL_TLS_CERT_PATH), key: await readFile(config.TEMPORAL_TLS_KEY_PATH) }
          : undefined,
      serverRootCACertificate: config.TEMPORAL_TLS_CA_PATH ? await readFile(config.TEMPORAL_TLS_CA_PATH) : undefined,
    };
  }
  return options;
}

export async function connectTemporalClient(config: Config): Promise<Client> {
  const connection = await Connection.connect(await temporalConnectionOptions(config));
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}
