import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from './index.js';
import { claimChannelMessage } from '../src/core/channels.js';
import { ChannelSendFailed, failChannelMessage, sendChannelMessage } from '../src/core/channel-senders.js';
import type { ChannelMessageInput } from '../workflows/contracts.js';

/** The channel message workflow's steps (see src/core/channels.ts and src/core/channel-senders.ts). */
export function createChannelActivities(deps: ActivityDeps) {
  const senderDeps = { sql: deps.sql, box: deps.secretBox, config: deps.config, httpAgent: deps.httpAgent };
  return {
    /** Makes the window's message of its occurrences (undefined: nothing to send); a retry finds the same message. */
    async claimChannelMessage(input: ChannelMessageInput): Promise<{ messageId: string; occurrences: number } | undefined> {
      return claimChannelMessage(deps.sql, { ...input, workflowId: Context.current().info.workflowExecution!.workflowId });
    },
    /** One try, numbered by the activity's attempt in the channel's attempt log; a permanent failure is not retried. */
    async sendChannelMessage(input: { messageId: string }): Promise<void> {
      try {
        await sendChannelMessage(senderDeps, input.messageId, Context.current().info.attempt);
      } catch (error) {
        if (error instanceof ChannelSendFailed) {
          throw ApplicationFailure.create({ type: 'ChannelSendFailed', message: error.message, nonRetryable: error.permanent });
        }
        throw error;
      }
    },
    /** The message ran out of tries: failed, with the last error. */
    async finishChannelMessage(input: { messageId: string; error: string }): Promise<void> {
      await failChannelMessage(deps.sql, input.messageId, input.error);
    },
  };
}
