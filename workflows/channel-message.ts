import { ApplicationFailure, ActivityFailure, proxyActivities, sleep } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities/index.js';
import { bookkeepingRetryPolicy } from './retry-policies.js';
import { channelMessageFailedType, type ChannelMessageInput, type ChannelMessageResult } from './contracts.js';

const closingGraceMs = 1000;

const { claimChannelMessage, finishChannelMessage } = proxyActivities<HeraldActivities>({ startToCloseTimeout: '1m', retry: bookkeepingRetryPolicy });

/**
 * Sending a message: one SMTP or Slack request per try, each recorded in the channel's attempt log by the activity.
 * A bad recipient or a Slack answer that will not change (4xx) is non-retryable (thrown as such by the activity).
 */
const { sendChannelMessage } = proxyActivities<HeraldActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '2s', backoffCoefficient: 3, maximumInterval: '15m', maximumAttempts: 8 },
});

/**
 * A notification channel's message for one series and one digest window (see ChannelMessageInput). Waiting for the
 * window to close before sending is what makes "at most one message per endpoint and kind per window" hold whatever
 * the number of publishers, workers or retries: the workflow id is the window, and the message is made once, of the
 * occurrences recorded in PostgreSQL by then. Signals are not needed: occurrences are rows (idempotent by key), and
 * a second start of the same window is "already started".
 */
export async function channelMessageWorkflow(input: ChannelMessageInput): Promise<ChannelMessageResult> {
  // A little past the window's end: a publish transaction that recorded an occurrence just before it has committed.
  await sleep(Math.max(0, Date.parse(input.windowEnd) + closingGraceMs - Date.now()));
  const claimed = await claimChannelMessage(input);
  if (!claimed) return { message_id: null, status: 'empty', occurrences: 0 };
  try {
    await sendChannelMessage({ messageId: claimed.messageId });
  } catch (error) {
    const cause = error instanceof ActivityFailure ? error.cause : error;
    const message = cause instanceof Error ? cause.message : String(cause);
    await finishChannelMessage({ messageId: claimed.messageId, error: message });
    throw ApplicationFailure.create({ type: channelMessageFailedType, message: `notification not sent: ${message}`, nonRetryable: true, details: [claimed.messageId] });
  }
  return { message_id: claimed.messageId, status: 'sent', occurrences: claimed.occurrences };
}
