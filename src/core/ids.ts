import { createHash } from 'node:crypto';
import { ulid } from 'ulid';

/** Resource ids: a type prefix and a ULID, so ids sort by creation time. */
export const idPrefixes = {
  tenant: 'ten',
  apiKey: 'key',
  endpoint: 'ep',
  event: 'evt',
  delivery: 'whd',
  trace: 'trc',
  recovery: 'rcv',
  secret: 'sec',
} as const;

export type IdKind = keyof typeof idPrefixes;

export function newId(kind: IdKind, now = Date.now()): string {
  return `${idPrefixes[kind]}_${ulid(now)}`;
}

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * The delivery id of an (event, endpoint) pair: the event's ULID time and a random-looking
 * part derived from both ids, so a fan-out that runs twice never mints a second delivery.
 */
export function deliveryIdFor(eventId: string, endpointId: string): string {
  const eventUlid = eventId.slice(eventId.indexOf('_') + 1);
  const time = eventUlid.slice(0, 10);
  const digest = createHash('sha256').update(`${eventId}\0${endpointId}`).digest();
  let randomPart = '';
  for (let index = 0; index < 16; index++) randomPart += crockford[digest[index]! & 31];
  return `${idPrefixes.delivery}_${time}${randomPart}`;
}
