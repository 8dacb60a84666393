import { buildEnvelope } from '../../src/core/envelope.js';

/** One delivery as a receiver gets it, shared by the receiver toolkit's tests: its secret, its time and its body. */
export const receiverSecret = 'whsec_c2VjcmV0IG9mIHRoZSByZWNlaXZlciB0ZXN0cw==';
export const receiverNow = 1777638896;
export const receiverBody = buildEnvelope('herald', {
  eventId: 'evt_01J7W9S4TSQ0T4SH43JYB9W5R8',
  deliveryId: 'whd_01J7W9S52C2ZK1XFY2GM7Z7SAK',
  eventType: 'v1.case.completed',
  schemaVersion: 'v1',
  traceId: 'trc_01J7W9S4V8ZKH4W4B8EG9J7TKC',
  createdAt: new Date(receiverNow * 1000),
  data: { case_status: 'completed' },
});
