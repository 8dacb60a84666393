import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, type SignalDefinition } from '@temporalio/common';

/**
 * Herald's workflow contracts: workflow types and ids, signals, queries, their payloads, failure types, search
 * attributes and the constants both sides share. No workflow function lives here (samples-typescript: early-return
 * keeps its definitions in a shared module), so core, activities, routes, the CLI, scripts, bench and tests import
 * this module and never a workflow file; workflows/index.ts exports the workflow functions only.
 *
 * Signal, query and patch names are recorded in histories and running workflows depend on them: never rename one.
 */

// ---------------------------------------------------------------------------------------------------------------
// Workflow types: started by name with these signatures (workflows/index.ts exports exactly these functions).

export type DeliveryWorkflow = (input: DeliveryWorkflowInput) => Promise<DeliveryProgress>;
export type FanoutWorkflow = (input: FanoutWorkflowInput) => Promise<{ dispatched: number }>;
export type EndpointHealthWorkflow = (input: EndpointHealthInput) => Promise<void>;
export type RecoverWorkflow = (input: RecoverWorkflowInput) => Promise<RecoveryProgress>;
export type PingWorkflow = () => Promise<string>;
export type ChannelMessageWorkflow = (input: ChannelMessageInput) => Promise<ChannelMessageResult>;
export type ReplayDeliveryWorkflow = (input: ReplayDeliveryInput) => Promise<ReplayDeliveryResult>;
/** recoverWorkflow as registered: the API starts it with RecoverWorkflowInput, an operator with RecoverOperatorInput. */
export type RecoverWorkflowAnyInput = (input: RecoverWorkflowInput | RecoverOperatorInput) => Promise<RecoveryProgress>;

export const workflowTypes = {
  delivery: 'deliveryWorkflow',
  fanout: 'fanoutWorkflow',
  endpointHealth: 'endpointHealthWorkflow',
  recover: 'recoverWorkflow',
  ping: 'pingWorkflow',
  replayDelivery: 'replayDelivery',
  channelMessage: 'channelMessageWorkflow',
} as const;

/**
 * A signal's arguments. Starting by type name needs the workflow's type spelled out, e.g.
 * `signalWithStart<EndpointHealthWorkflow, SignalArgs<typeof healthSignal>>(workflowTypes.endpointHealth, …)`: once one
 * type argument is given TypeScript infers no other.
 */
export type SignalArgs<S> = S extends SignalDefinition<infer Args> ? Args : never;

// ---------------------------------------------------------------------------------------------------------------
// Search attributes: custom attributes Herald sets on its workflows, so the Web UI can filter deliveries.

export const HeraldTenantId = defineSearchAttributeKey('HeraldTenantId', 'KEYWORD');
export const HeraldEndpointId = defineSearchAttributeKey('HeraldEndpointId', 'KEYWORD');
export const HeraldEventType = defineSearchAttributeKey('HeraldEventType', 'KEYWORD');
export const HeraldDeliveryStatus = defineSearchAttributeKey('HeraldDeliveryStatus', 'KEYWORD');

export const heraldSearchAttributes = [HeraldTenantId, HeraldEndpointId, HeraldEventType, HeraldDeliveryStatus];

// ---------------------------------------------------------------------------------------------------------------
// Delivery

export type DeliveryStatus = 'pending' | 'delivering' | 'retrying' | 'delivered' | 'failed';

/** Statuses of a delivery whose workflow has not ended yet. */
export const runningDeliveryStatuses = ['pending', 'delivering', 'retrying'] as const;

export const deliveryWorkflowId = (deliveryId: string) => `delivery-${deliveryId}`;

/**
 * The delivery id and its attempt budget (1 + the endpoint's retries, fixed when the delivery was
 * created). Secrets and payloads are loaded by the activity and never enter workflow history.
 */
export interface DeliveryWorkflowInput {
  deliveryId: string;
  maxAttempts: number;
}

export interface DeliveryProgress {
  status: DeliveryStatus;
  attempt: number;
  max_attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  failure_reason: string | null;
}

/** The attempt activity's input; `attemptsBefore` counts attempts made before its first (by the local first attempt). */
export interface AttemptInput {
  deliveryId: string;
  maxAttempts: number;
  attemptsBefore?: number;
  /** An attempt of the delivery loop (deliveryLoopPatch): claimed for its run; number, budget and schedule from the row. */
  loop?: boolean;
}

/** The attempt activity's result: the attempt that delivered. */
export interface AttemptOutcome {
  attempt: number;
  status_code: number | null;
  /** Loop attempts: the delivery's budget then (a reset gives it a fresh one). */
  max_attempts?: number;
}

/**
 * A failed attempt that will be retried: sent by the attempt activity as a signal, so progress is live between
 * retries, and carried as the failure's details.
 */
export interface AttemptFailedReport {
  attempt: number;
  status_code: number | null;
  error: string;
  next_attempt_at: string;
  /** Loop attempts: the delivery's budget (a reset gives it a fresh one). */
  max_attempts?: number;
}

export const attemptFailedSignal = defineSignal<[AttemptFailedReport]>('attemptFailed');
export const progressQuery = defineQuery<DeliveryProgress>('progress');

/** What a retryable failed attempt carries as its failure's details: its report and the delay before the next. */
export type AttemptFailedDetails = [report: AttemptFailedReport, delayMs: number];

/** The failure type of an attempt whose receiver did not accept the webhook. */
export const deliveryAttemptFailedType = 'DeliveryAttemptFailed';

/** Failure types the attempt activity throws that end the delivery at once. */
export const nonRetryableDeliveryFailures = {
  endpointDisabled: 'EndpointDisabled',
  endpointGone: 'EndpointGone',
  deliveryNotFound: 'DeliveryNotFound',
  /** The endpoint's payload template failed to render (the attempt is recorded with error_class template). */
  templateError: 'TemplateError',
} as const;

/**
 * A delivery whose template failed ends with failure_reason template_error (closing as TemplateError); without the
 * marker (a history whose workflow code predates it) the same failure is taken for exhausted retries, as it was then.
 */
export const templateErrorPatch = 'template-error';

/** Histories started before the first attempt became local replay without it. */
export const firstAttemptLocalPatch = 'first-attempt-local';
/**
 * A delivery that ends failed closes its workflow as Failed (an ApplicationFailure of a deliveryFailureTypes type);
 * histories recorded before that replay to Completed, returning the failed progress.
 */
export const failedClosesFailedPatch = 'failed-closes-failed';

/** Why a delivery ended failed: its `failure_reason` and the type of the failure its workflow closes with. */
export const deliveryFailureTypes = {
  retries_exhausted: 'RetriesExhausted',
  endpoint_disabled: 'EndpointDisabled',
  endpoint_gone: 'EndpointGone',
  delivery_not_found: 'DeliveryNotFound',
  cancelled: 'Cancelled',
  template_error: 'TemplateError',
} as const;

export type DeliveryFailureReason = keyof typeof deliveryFailureTypes;

// ---------------------------------------------------------------------------------------------------------------
// Fan-out

export interface FanoutWorkflowInput {
  eventId: string;
  /** The last delivery id already dispatched; the next batch starts after it. */
  afterDeliveryId?: string;
}

export const fanoutWorkflowId = (eventId: string) => `fanout-${eventId}`;

/** Deliveries started per activity call of the fan-out workflow. */
export const fanoutBatchSize = 500;

// ---------------------------------------------------------------------------------------------------------------
// Endpoint health (its rules are in src/core/health-rules.ts)

export interface AttemptReport {
  delivery_id: string;
  attempt: number;
  at: string;
  status_code?: number | null;
  error_class?: string | null;
  error?: string | null;
  /** The endpoint's current rules travel with every report, so a changed setting applies at once. */
  disable_after_failures?: number;
  disable_after_ms?: number | null;
  /**
   * When the endpoint was last enabled again (`endpoints.enabled_at`) as the attempt saw it: attempts run only while
   * the endpoint is active, so a report newer than the health workflow's own deactivation tells it it missed a re-enable.
   */
  endpoint_enabled_at?: string | null;
}

export interface HealthSettings {
  disable_after_failures: number;
  disable_after_ms: number | null;
}

export type HealthStatus = 'healthy' | 'degraded' | 'failing' | 'disabled';
export type HealthColour = 'green' | 'yellow' | 'red';

export interface EndpointHealth {
  status: HealthStatus;
  colour: HealthColour;
  consecutive_failures: number;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_error: string | null;
  failing_since: string | null;
  disabled_reason: string | null;
  window: { attempts: number; successes: number };
}

export interface HealthState extends HealthSettings {
  consecutive_failures: number;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_error: string | null;
  failing_since: string | null;
  disabled: boolean;
  disabled_reason: string | null;
  /** When the workflow learnt of the current deactivation (absent in states carried over from older runs). */
  disabled_since?: string | null;
  /** Recent outcomes, oldest first: 1 success, 0 failure. */
  window: number[];
  seen: string[];
}

export interface EndpointHealthInput {
  endpointId: string;
  tenantId: string;
  state?: HealthState;
  /** Reports handled before continuing as new; small in tests, large in production. */
  maxReportsPerRun?: number;
  /** A streak that ended in the previous run, which continued as new before clearing it. */
  streakEndedAt?: string;
}

export const attemptSucceededSignal = defineSignal<[AttemptReport]>('attemptSucceeded');
export const attemptFailedHealthSignal = defineSignal<[AttemptReport]>('attemptFailed');
/** `at`: the row's enabled_at (absent when sent by older code). */
export const endpointEnabledSignal = defineSignal<[{ at?: string }?]>('enabled');
/** `at`: the row's disabled_at (absent when sent by older code). */
export const endpointDisabledSignal = defineSignal<[{ reason: string; at?: string }]>('disabled');
export const settingsChangedSignal = defineSignal<[HealthSettings]>('settingsChanged');
export const healthQuery = defineQuery<EndpointHealth>('health');

export const endpointHealthWorkflowId = (endpointId: string) => `endpoint-health-${endpointId}`;

/** Running health workflows adopt the self-correcting rule (evaluateHealth's selfCorrect); older histories replay without it. */
export const healthSelfCorrectPatch = 'health-self-correct';
/** Full health runs continue as new before clearing a streak; older histories replay the old order. */
export const healthContinueFirstPatch = 'health-continue-first';

// ---------------------------------------------------------------------------------------------------------------
// Recovery

export interface RecoverWorkflowInput {
  recoveryId: string;
  batchSize: number;
  total: number;
  /** Carried across continue-as-new. */
  afterDeliveryId?: string;
  replayed?: number;
  /** Batches per run before continuing as new (tests make it small). */
  batchesPerRun?: number;
}

export interface RecoveryProgress {
  total: number;
  replayed: number;
  remaining: number;
}

export const recoverWorkflowId = (recoveryId: string) => `recover-${recoveryId}`;
export const recoveryProgressQuery = defineQuery<RecoveryProgress>('progress');

/**
 * recoverWorkflow's input when an operator starts it (`temporal workflow start --type recoverWorkflow --input …`): the
 * API's recover body plus the tenant. Its first step creates the recovery row (createRecovery, as the API does) and
 * records the operator's workflow id on it; the run then goes on as with RecoverWorkflowInput.
 */
export interface RecoverOperatorInput {
  tenant_id: string;
  endpoint_id: string;
  /** An ISO 8601 date, or a duration meaning "that long ago" (`2h`). */
  since: string;
  /** Like since; default now. */
  until?: string;
  status?: 'failed' | 'delivered';
  batch_size?: number;
  force?: boolean;
}

/** What the operator recovery's first activity created: the row, and the input the run goes on with. */
export interface OperatorRecoveryCreated {
  recoveryId: string;
  batchSize: number;
  total: number;
  tenantId: string;
  endpointId: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Replay of one delivery from the `temporal` CLI (`POST …/deliveries/:id/replay` without the API)

/** `temporal workflow start --type replayDelivery --input '{"delivery_id": "whd_…"}'`; force as in the API. */
export interface ReplayDeliveryInput {
  delivery_id: string;
  force?: boolean;
}

export interface ReplayDeliveryResult {
  replay_delivery_id: string;
  /** The replay's delivery workflow, `delivery-<replay_delivery_id>`. */
  workflow_id: string;
}

/** The failure type of a replayDelivery or operator recoverWorkflow started with input it cannot use. */
export const invalidInputFailureType = 'InvalidInput';

// ---------------------------------------------------------------------------------------------------------------
// Deliveries ended from outside their workflow (src/core/delivery-operations.ts)

/**
 * The `failure_reason` of a delivery whose workflow was terminated (or closed, or is gone) while its row still said
 * it was running: a terminated workflow runs no cleanup, so the worker's sweeper finishes the row. It has no workflow
 * failure type (the workflow never failed; Temporal shows it Terminated) and publishes no delivery_failed notice.
 */
export const terminatedFailureReason = 'terminated';

// ---------------------------------------------------------------------------------------------------------------
// Delivery loop: retries one attempt at a time, `retryNow`, and resets that re-send

/**
 * Deliveries run their attempts as a loop: each attempt is one activity (the first a local one), and the wait before a
 * retry is a workflow timer that the `retryNow` update cuts short. Each attempt's number and budget come from the
 * delivery row, whose `run_id` names the workflow run owning it: a run of the same workflow after a reset (the
 * WorkflowTaskFailed event with cause RESET_WORKFLOW in its history) reopens the row at its next attempt, with a fresh
 * budget from the endpoint's current schedule; a run reset to a point after the delivery ended learns it from its closing
 * step (the closeDelivery local activity, which a reset always runs again) and sends again. Histories from before it
 * replay the single-activity retry policy.
 */
export const deliveryLoopPatch = 'delivery-loop';

/** What `retryNow` answers: the attempt it ran at once, and where the delivery stands after it. */
export interface RetryNowOutcome {
  attempt: number;
  status_code: number | null;
  /** delivered; retrying (it failed and the next retry is scheduled); failed (it was the last, or the delivery ended). */
  status: DeliveryStatus;
  error?: string;
}

/** `temporal workflow update execute --workflow-id delivery-<id> --name retryNow`: refused unless the delivery waits for a retry. */
export const retryNowUpdate = defineUpdate<RetryNowOutcome>('retryNow');

/** The validator's refusal of `retryNow` when the delivery is not waiting for a retry. */
export const notWaitingForRetry = (deliveryId: string, status: DeliveryStatus) =>
  `delivery ${deliveryId} is not waiting for a retry: it is ${status === 'delivering' ? 'attempting right now' : status}`;

// ---------------------------------------------------------------------------------------------------------------
// Notification channels (src/core/channels.ts)

/**
 * One message of a notification channel: everything of one series (an endpoint and a kind, e.g. `v1.endpoint.disabled`
 * of ep_…) that happened in one digest window. Started by whoever records an occurrence, under a workflow id made of
 * the channel, the series and the window's start, so every publisher of the window names the same workflow; it sleeps
 * until the window closes, then sends one message (a digest with a count when there were several) with retries.
 */
export interface ChannelMessageInput {
  channelId: string;
  seriesKey: string;
  /** ISO dates: the window this message covers (the workflow sends once `windowEnd` has passed). */
  windowStart: string;
  windowEnd: string;
}

export interface ChannelMessageResult {
  message_id: string | null;
  status: 'sent' | 'failed' | 'empty';
  occurrences: number;
}

/** `channel-<channel id>-<series hash>-<window start, ms>`: one per channel, series and window. */
export const channelMessageWorkflowId = (channelId: string, seriesHash: string, windowStartMs: number) => `channel-${channelId}-${seriesHash}-${windowStartMs}`;

/** The failure type a channel message's workflow closes with when its sends ran out of retries. */
export const channelMessageFailedType = 'ChannelMessageFailed';
