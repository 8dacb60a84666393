import { createHash } from 'node:crypto';
import { encodeTime, ulid } from 'ulid';

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
  portalSession: 'pss',
  channel: 'chn',
  channelMessage: 'cmsg',
} as const;

export type IdKind = keyof typeof idPrefixes;

export function newId(kind: IdKind, now = Date.now()): string {
  return `${idPrefixes[kind]}_${ulid(now)}`;
}

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID's random part derived from `key`: the same key, the same id. */
function derivedRandomPart(key: string): string {
  const digest = createHash('sha256').update(key).digest();
  let randomPart = '';
  for (let index = 0; index < 16; index++) randomPart += crockford[digest[index]! & 31];
  return randomPart;
}

/**
 * The delivery id of an (event, endpoint) pair: the event's ULID time and a random-looking
 * part derived from both ids, so a fan-out that runs twice never mints a second delivery.
 */
export function deliveryIdFor(eventId: string, endpointId: string): string {
  const eventUlid = eventId.slice(eventId.indexOf('_') + 1);
  return `${idPrefixes.delivery}_${eventUlid.slice(0, 10)}${derivedRandomPart(`${eventId}\0${endpointId}`)}`;
}

/**
 * An id minted once per `key` (e.g. a workflow run's activity): an activity retried after its insert committed finds
 * its own row instead of creating a second one. `timeMs` (the activity's first schedule) keeps ids sorting by creation.
 */
export function idFor(kind: IdKind, timeMs: number, key: string): string {
  return `${idPrefixes[kind]}_${encodeTime(timeMs, 10)}${derivedRandomPart(key)}`;
}
