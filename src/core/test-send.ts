import type { Sql } from '../db/client.js';
import { schemaVersionOf, testEventType } from './event-catalog.js';
import { newId } from './ids.js';
import { recordTestAttempt } from './deliveries.js';
import { sendSignedRequest, type SignedRequestTarget } from './signed-request.js';

/**
 * A test send: one signed `v1.webhook.test` request, made synchronously with the same signing, headers
 * and timeout as a delivery. It is not a delivery: no workflow, no retry, and it never reaches the
 * endpoint's health workflow, so a failing test cannot deactivate an endpoint.
 */
export interface TestSendResult {
  /** The id the request was signed with (webhook-id for Standard Webhooks), to find it in receiver logs. */
  delivery_id: string;
  event_id: string;
  success: boolean;
  status_code: number | null;
  duration_ms: number;
  response_excerpt: string;
  /** The headers of the response (the ones attempts record too). */
  response_headers: Record<string, string>;
  signature_headers: Record<string, string>;
  error_class: string | null;
  error_message: string | null;
}

export const testWebhookData = { message: 'This is a test webhook from Herald' };
const excerptChars = 1000;

/** Signing profiles of the deployment, and the dispatcher that applies the URL policy (see sendSignedRequest). */
export type TestSendOptions = Omit<NonNullable<Parameters<typeof sendSignedRequest>[2]>, 'signal'>;

export async function sendTestWebhook(target: SignedRequestTarget, options: TestSendOptions = {}) {
  const ids = { eventId: newId('event'), deliveryId: newId('delivery'), traceId: newId('trace') };
  const startedAt = new Date();
  const { result, signatureHeaders } = await sendSignedRequest(
    target,
    { ...ids, eventType: testEventType, schemaVersion: schemaVersionOf(testEventType), createdAt: startedAt, data: testWebhookData },
    options,
  );
  const answer: TestSendResult = {
    delivery_id: ids.deliveryId,
    event_id: ids.eventId,
    success: result.ok,
    status_code: result.statusCode,
    duration_ms: result.durationMs,
    response_excerpt: result.body.slice(0, excerptChars),
    response_headers: result.headers,
    signature_headers: signatureHeaders,
    error_class: result.errorClass,
    error_message: result.errorMessage,
  };
  return { answer, result, startedAt };
}

/** Tests a registered endpoint and records the send in its attempt log as kind 'test' (no delivery, no health report). */
export async function testRegisteredEndpoint(
  sql: Sql,
  endpoint: SignedRequestTarget & { id: string },
  options: TestSendOptions = {},
): Promise<TestSendResult> {
  const { answer, result, startedAt } = await sendTestWebhook(endpoint, options);
  await recordTestAttempt(sql, endpoint, startedAt, result);
  return answer;
}
