import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { invalidInputFailureType, type RecoverOperatorInput, type ReplayDeliveryInput } from './contracts.js';

/**
 * Plain checks (no zod: workflow code) of what an operator passed with `temporal workflow start --input …`. Bad input
 * fails the workflow at once with a non-retryable `InvalidInput` failure naming the field, before any activity runs;
 * dates and everything that needs the database are checked by the first activity, as the API checks them.
 */

function invalid(message: string): never {
  throw ApplicationFailure.nonRetryable(message, invalidInputFailureType);
}

function fieldsOf(input: unknown, example: string, known: readonly string[]): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) invalid(`the input must be a JSON object such as ${example}`);
  const unknown = Object.keys(input).filter((key) => !known.includes(key));
  if (unknown.length > 0) invalid(`unknown field ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return input as Record<string, unknown>;
}

function text(fields: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const value = fields[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.trim() === '') invalid(`${name} is required (a non-empty string)`);
  return value;
}

function flag(fields: Record<string, unknown>, name: string): boolean {
  if (fields[name] !== undefined && typeof fields[name] !== 'boolean') invalid(`${name} must be true or false`);
  return fields[name] === true;
}

export function checkReplayInput(input: unknown): ReplayDeliveryInput {
  const fields = fieldsOf(input, '{"delivery_id": "whd_…"}', ['delivery_id', 'force']);
  return { delivery_id: text(fields, 'delivery_id', true)!, force: flag(fields, 'force') };
}

/** The API's recover body (src/api/routes/operations.ts) plus tenant_id, with the same defaults. */
export function checkRecoverInput(input: unknown): Required<Omit<RecoverOperatorInput, 'until'>> & Pick<RecoverOperatorInput, 'until'> {
  const fields = fieldsOf(input, '{"tenant_id": "ten_…", "endpoint_id": "ep_…", "since": "2h"}', ['tenant_id', 'endpoint_id', 'since', 'until', 'status', 'batch_size', 'force']);
  const status = fields.status ?? 'failed';
  if (status !== 'failed' && status !== 'delivered') invalid('status must be "failed" or "delivered"');
  const batchSize = fields.batch_size ?? 100;
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) invalid('batch_size must be an integer from 1 to 1000');
  return {
    tenant_id: text(fields, 'tenant_id', true)!,
    endpoint_id: text(fields, 'endpoint_id', true)!,
    since: text(fields, 'since', true)!,
    until: text(fields, 'until', false),
    status,
    batch_size: batchSize,
    force: flag(fields, 'force'),
  };
}

/**
 * An activity's non-retryable failure (a domain error: `NotFound`, `Conflict`, `Invalid`) rethrown as the workflow's
 * own, so `temporal workflow describe` and `result` show its message rather than "Activity task failed".
 */
export function surfaceFinalFailure(error: unknown): never {
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  if (cause instanceof ApplicationFailure && cause.nonRetryable) {
    throw ApplicationFailure.create({ message: cause.message, type: cause.type ?? undefined, nonRetryable: true, details: cause.details ?? undefined, cause: error as ActivityFailure });
  }
  throw error;
}
