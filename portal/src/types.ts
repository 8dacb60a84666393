/** The shapes the portal reads from the /v1 API and /portal/session (see GET /openapi.json). */

export interface SessionView {
  tenant_id: string;
  tenant_name: string;
  read_only: boolean;
  expires_at: string;
  csrf_token: string;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export type HealthStatus = 'healthy' | 'degraded' | 'failing' | 'disabled';

export interface EndpointHealth {
  status: HealthStatus;
  colour: 'green' | 'yellow' | 'red';
  consecutive_failures: number;
  success_rate_24h: number | null;
  last_delivery_at: string | null;
  last_success_at: string | null;
  disabled_reason: string | null;
}

export type RetrySchedule = string[] | { exponential: { initial: string; factor?: number; retries: number; max?: string } };

export interface SignatureSettings {
  profile: string;
  headers?: { id?: string; timestamp?: string; signature?: string };
  user_agent?: string;
  client_id?: string;
}

/** A payload template (README, "Payload templates"): sent instead of the envelope when set. */
export interface PayloadTemplate {
  engine: 'liquid';
  source: string;
  content_type: string;
  strict_variables: boolean;
}

/** POST …/endpoints/:id/template/preview: the request as it would be sent, signed, custom header values masked. */
export interface TemplatePreview {
  event_id: string;
  delivery_id: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface Endpoint {
  id: string;
  url: string;
  description: string;
  event_types: string[];
  active: boolean;
  headers: Record<string, string>;
  secret: string;
  signature: SignatureSettings;
  envelope: string;
  /** Absent from servers without payload templates; null: the envelope. */
  template?: PayloadTemplate | null;
  retry_schedule: RetrySchedule;
  timeout: string;
  disable_after_failures: number;
  disable_after: string | null;
  disabled_reason: string | null;
  disabled_at: string | null;
  created_at: string;
  updated_at: string;
  warnings?: { code: string; message: string }[];
  health?: EndpointHealth;
}

export interface EventType {
  name: string;
  schema_version: string;
  description: string;
  schema: Record<string, unknown> | null;
  deprecated: boolean;
  deprecated_at: string | null;
  operational: boolean;
  /** Not in the API yet: shown when the server adds it. */
  example?: unknown;
}

export type DeliveryStatus = 'pending' | 'delivering' | 'retrying' | 'delivered' | 'failed';

export interface Delivery {
  id: string;
  event_id: string;
  endpoint_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  max_attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  failure_reason: string | null;
  replay_of: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

export interface Attempt {
  delivery_id: string | null;
  attempt: number;
  kind: 'delivery' | 'test';
  started_at: string;
  duration_ms: number;
  status_code: number | null;
  success: boolean;
  error_class: string | null;
  error_message: string | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
}

export interface DeliveryWithAttempts extends Delivery {
  attempts_log: Attempt[];
  live: boolean;
}

/** GET …/deliveries/:id/request: the request as sent, secrets masked. Fields read defensively. */
export interface SentRequest {
  method?: string;
  url?: string;
  headers?: Record<string, string> | [string, string][];
  body?: unknown;
  signed_at?: string;
}

export interface TestResult {
  success: boolean;
  status_code: number | null;
  duration_ms: number;
  response_excerpt: string;
  signature_headers: Record<string, string>;
  /** Absent from older servers. */
  response_headers?: Record<string, string> | null;
  error_class: string | null;
  error_message: string | null;
  delivery_id: string;
  event_id: string;
}

export interface Recovery {
  id: string;
  status: 'running' | 'completed';
  total: number;
  replayed: number;
  remaining: number;
  since: string;
  until: string;
  finished_at: string | null;
}
