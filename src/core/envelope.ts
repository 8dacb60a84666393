import { z } from 'zod';

// Placeholder declarations: the envelope builder is being written; this schema is its public contract.
export const envelopeKindSchema = z.enum(['herald', 'compact', 'bare']);
export type EnvelopeKind = z.infer<typeof envelopeKindSchema>;
