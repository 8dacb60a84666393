import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Encryption at rest for endpoint secrets and custom header values: AES-256-GCM,
 * stored as version byte ‖ 12-byte nonce ‖ 16-byte tag ‖ ciphertext.
 */
export interface SecretBox {
  encrypt(plaintext: string): Buffer;
  decrypt(stored: Buffer): string;
}

const formatVersion = 1;

export function createSecretBox(keyBase64: string): SecretBox {
  const key = Buffer.from(keyBase64, 'base64');
  if (key.length !== 32) throw new Error('the encryption key must be 32 bytes');
  return {
    encrypt(plaintext) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.from([formatVersion]), nonce, cipher.getAuthTag(), body]);
    },
    decrypt(stored) {
      if (stored[0] !== formatVersion) throw new Error('unknown ciphertext format');
      const decipher = createDecipheriv('aes-256-gcm', key, stored.subarray(1, 13));
      decipher.setAuthTag(stored.subarray(13, 29));
      return Buffer.concat([decipher.update(stored.subarray(29)), decipher.final()]).toString('utf8');
    },
  };
}

/** Endpoint signing secrets: `whsec_` + 32 random bytes, base64 (Standard Webhooks). */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** API keys are random and high-entropy, so a plain SHA-256 is a sufficient at-rest hash. */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

export function generateApiKey(): string {
  return `sk_${randomBytes(24).toString('base64url')}`;
}

export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A secret header value as answers show it: its last 4 characters when it has 8 or more, else nothing. */
export function maskHeaderValue(value: string): string {
  return value.length >= 8 ? `****${value.slice(-4)}` : '****';
}

/** `headers` with the values of the headers named in `secretNames` (any case) masked by maskHeaderValue. */
export function maskHeaders(headers: Record<string, string>, secretNames: Iterable<string>): Record<string, string> {
  const secret = new Set([...secretNames].map((name) => name.toLowerCase()));
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, secret.has(name.toLowerCase()) ? maskHeaderValue(value) : value]));
}

/** `whsec_****a1b2`: enough to tell secrets apart, never enough to use one. */
export function maskSecret(value: string): string {
  const prefix = value.startsWith('whsec_') ? 'whsec_' : '';
  return `${prefix}****${value.slice(-4)}`;
}
