import { z } from 'zod';

// Placeholder declarations: the signing module is being written; these schemas are its public contract.

export const builtInProfileNames = ['standard-webhooks', 'timestamped', 'timestamped-body', 'body-hex', 'prefixed', 'unsigned'] as const;

const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name');

/** The `signature` field of an endpoint. */
export const signatureSettingsSchema = z
  .object({
    profile: z.string().min(1).default('standard-webhooks'),
    headers: z.object({ id: headerName, timestamp: headerName, signature: headerName }).partial().strict().optional(),
    user_agent: z.string().min(1).max(200).optional(),
    client_id: z.string().min(1).max(200).optional(),
  })
  .strict();

export type SignatureSettings = z.infer<typeof signatureSettingsSchema>;
