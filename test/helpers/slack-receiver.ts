import type { Responder } from './receiver.js';

/**
 * Slack's incoming-webhook contract, as Slack enforces it: a JSON body (application/json) with a non-empty `text`
 * (and `blocks`, when present, an array of objects with a `type`) is answered 200 `ok`; anything else 400
 * `invalid_payload` (or `no_text`).
 */
export function slackContract(): Responder {
  return (request, response) => {
    const refuse = (body: string) => {
      response.writeHead(400, { 'content-type': 'text/plain' });
      response.end(body);
    };
    if (request.method !== 'POST' || !request.headers['content-type']?.startsWith('application/json')) return refuse('invalid_payload');
    let payload: { text?: unknown; blocks?: unknown };
    try {
      payload = JSON.parse(request.body);
    } catch {
      return refuse('invalid_payload');
    }
    if (typeof payload.text !== 'string' || payload.text.trim() === '') return refuse('no_text');
    if (payload.blocks !== undefined && (!Array.isArray(payload.blocks) || payload.blocks.some((block) => typeof block?.type !== 'string'))) return refuse('invalid_blocks');
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok');
  };
}
