/**
 * Herald's operational events: the notices Herald itself publishes to a tenant's endpoints. One typed list, so
 * the types, their data and who may publish them are defined once. Tenants cannot publish them (receivers must
 * be able to trust that a `v1.endpoint.disabled` came from Herald), and Herald's own publications are idempotent
 * by construction: each names the state change it announces, in an idempotency namespace tenants cannot reach.
 */
export const operationalEventTypes = {
  webhookTest: 'v1.webhook.test',
  deliveryFailed: 'v1.webhook.delivery_failed',
  endpointDisabled: 'v1.endpoint.disabled',
  endpointEnabled: 'v1.endpoint.enabled',
  recoveryFinished: 'v1.endpoint.recovery_finished',
} as const;

export type OperationalEventType = (typeof operationalEventTypes)[keyof typeof operationalEventTypes];

const operationalTypeNames: ReadonlySet<string> = new Set(Object.values(operationalEventTypes));

export function isOperationalEventType(eventType: string): eventType is OperationalEventType {
  return operationalTypeNames.has(eventType);
}

/** The `data` of each notice Herald publishes (the test event is sent directly, never published). */
export interface OperationalEventData {
  'v1.webhook.delivery_failed': {
    delivery_id: string;
    event_id: string;
    endpoint_id: string;
    event_type: string;
    attempts: number;
    last_error: string | null;
  };
  'v1.endpoint.disabled': { endpoint_id: string; reason: string; consecutive_failures: number; last_error: string | null };
  'v1.endpoint.enabled': { endpoint_id: string };
  'v1.endpoint.recovery_finished': { endpoint_id: string; recovery_id: string; total: number; replayed: number };
}

export type PublishedOperationalType = keyof OperationalEventData;

/**
 * A notice to publish. `occurrence` names the state change it announces (a delivery id, an endpoint and the time
 * it was disabled): publishing the same occurrence again is "already done", never a second notice or an error.
 */
export interface OperationalNotice<T extends PublishedOperationalType = PublishedOperationalType> {
  tenantId: string;
  type: T;
  data: OperationalEventData[T];
  occurrence: string;
  /** Endpoints that must not receive it (an endpoint is not told about itself). */
  excludeEndpointIds?: string[];
}

/** Names of the keys in Herald's idempotency namespace (the same as before that namespace existed, minus `herald:`). */
const noticeKeyNames: Record<PublishedOperationalType, string> = {
  'v1.webhook.delivery_failed': 'delivery_failed',
  'v1.endpoint.disabled': 'endpoint_disabled',
  'v1.endpoint.enabled': 'endpoint_enabled',
  'v1.endpoint.recovery_finished': 'recovery_finished',
};

/** The idempotency key of a notice, in Herald's own namespace. */
export function noticeKey(notice: Pick<OperationalNotice, 'type' | 'occurrence'>): string {
  return `${noticeKeyNames[notice.type]}:${notice.occurrence}`;
}

/** Prefix of idempotency keys tenants may not use, so Herald's keys (as logged and documented) stay unambiguous. */
export const reservedIdempotencyKeyPrefix = 'herald:';
