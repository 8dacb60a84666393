import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import type { HeraldActivities } from '../activities/index.js';
import { channelMessageFailedType, workflowTypes, type ChannelMessageInput, type ChannelMessageWorkflow } from '../workflows/contracts.js';
import { createTimeSkippingWorker, startTimeSkippingEnvironment, timeSkippingUnavailable } from './helpers/time-skipping.js';

/**
 * The channel message workflow (workflows/channel-message.ts) with mocked activities on Temporal's time-skipping test
 * server: a 15-minute digest window and retries over most of an hour run in seconds.
 */

const minute = 60_000;
const uniqueId = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;

describe.skipIf(timeSkippingUnavailable)('the channel message workflow (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await startTimeSkippingEnvironment();
  }, 600_000);
  afterAll(async () => {
    await env?.teardown();
  });

  /** Mocks of activities/channels.ts: a claim of `occurrences`, and sends answered as scripted (then always failing). */
  function scripted(occurrences: number, sends: ('fails' | 'refused' | 'accepts')[]) {
    const claims: number[] = [];
    const tries: number[] = [];
    const failed: string[] = [];
    const activities: Pick<HeraldActivities, 'claimChannelMessage' | 'sendChannelMessage' | 'finishChannelMessage'> = {
      async claimChannelMessage() {
        claims.push(await env.currentTimeMs());
        return occurrences === 0 ? undefined : { messageId: 'cmsg_1', occurrences };
      },
      async sendChannelMessage() {
        tries.push(await env.currentTimeMs());
        const answer = sends[Context.current().info.attempt - 1] ?? 'fails';
        if (answer === 'accepts') return;
        throw ApplicationFailure.create({ type: 'ChannelSendFailed', message: answer === 'refused' ? '550 mailbox unavailable' : '451 try again later', nonRetryable: answer === 'refused' });
      },
      async finishChannelMessage(input) {
        failed.push(input.error);
      },
    };
    return { activities, claims, tries, failed };
  }

  async function run(script: ReturnType<typeof scripted>, windowMs = 15 * minute) {
    const taskQueue = uniqueId('channel-message');
    const now = await env.currentTimeMs();
    const input: ChannelMessageInput = { channelId: 'chn_1', seriesKey: 'v1.endpoint.disabled:ep_1', windowStart: new Date(now).toISOString(), windowEnd: new Date(now + windowMs).toISOString() };
    const worker = await createTimeSkippingWorker(env, { taskQueue, activities: script.activities });
    const outcome = await worker.runUntil(
      env.client.workflow.execute<ChannelMessageWorkflow>(workflowTypes.channelMessage, { workflowId: uniqueId('channel'), taskQueue, args: [input] }).then(
        (result) => ({ result, error: undefined }),
        (error: unknown) => ({ result: undefined, error }),
      ),
    );
    return { ...outcome, windowEnd: now + windowMs };
  }

  it('sends once its 15-minute window has closed, retrying a server that says "later" after 2 s, then 6 s', async () => {
    const script = scripted(12, ['fails', 'fails', 'accepts']);
    const realStart = Date.now();
    const { result, windowEnd } = await run(script);
    expect(result).toEqual({ message_id: 'cmsg_1', status: 'sent', occurrences: 12 });
    expect(script.claims).toHaveLength(1);
    expect(script.claims[0]).toBeGreaterThanOrEqual(windowEnd);
    expect(script.claims[0]).toBeLessThan(windowEnd + 5_000);
    const [first, second, third] = script.tries as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(2_000);
    expect(third - second).toBeGreaterThanOrEqual(6_000);
    expect(script.failed).toEqual([]);
    expect(Date.now() - realStart).toBeLessThan(30_000);
  });

  it('a window with nothing left to send (channel deleted or deactivated) ends without a message', async () => {
    const script = scripted(0, []);
    const { result } = await run(script, minute);
    expect(result).toEqual({ message_id: null, status: 'empty', occurrences: 0 });
    expect(script.tries).toEqual([]);
  });

  it('gives up after 8 tries (2 s, ×3, at most 15 min apart: 27 minutes), marks the message failed and closes Failed (ChannelMessageFailed)', async () => {
    const script = scripted(1, []);
    const { error } = await run(script, minute);
    expect(script.tries).toHaveLength(8);
    expect(script.tries.at(-1)! - script.tries[0]!).toBeGreaterThanOrEqual(1_628_000);
    expect(script.failed).toEqual(['451 try again later']);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toMatchObject({ type: channelMessageFailedType, nonRetryable: true });
  });

  it('a refusal that will not change (SMTP 5xx, Slack 404) is not retried', async () => {
    const script = scripted(1, ['refused']);
    const { error } = await run(script, minute);
    expect(script.tries).toHaveLength(1);
    expect(script.failed).toEqual(['550 mailbox unavailable']);
    expect((error as WorkflowFailedError).cause).toMatchObject({ type: channelMessageFailedType });
  });
});
