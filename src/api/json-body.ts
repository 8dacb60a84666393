import express, { type RequestHandler } from 'express';
import { jsonTooDeep } from '../core/json-depth.js';
import { HttpError } from './errors.js';

/**
 * Request bodies are read only by routes that declare one (defineRoute adds `readJsonBody` to them): a body sent
 * to any other route is drained unread. A body must be application/json (415), at most HERALD_MAX_BODY_BYTES (413),
 * nested at most HERALD_MAX_JSON_DEPTH levels (422 `too_deep`, checked on the raw bytes before JSON.parse or any
 * recursive walk sees it), and well-formed (400).
 */
export interface JsonBodyLimits {
  maxBytes: number;
  maxDepth: number;
}

const parserSetting = 'herald json body parser';

/** Installs the app's body parser, which readJsonBody uses. */
export function installJsonBodyParser(app: express.Express, limits: JsonBodyLimits): void {
  const parse = express.json({
    limit: limits.maxBytes,
    type: 'application/json',
    strict: true,
    verify: (_request, _response, raw) => {
      if (jsonTooDeep(raw, limits.maxDepth)) {
        throw new HttpError(422, 'too_deep', `The request body nests arrays and objects more than ${limits.maxDepth} levels deep`, { max_depth: limits.maxDepth });
      }
    },
  });
  app.set(parserSetting, [requireJsonBody, parse]);
}

/** Bodies must be JSON when present; anything else is 415 before it is read. */
const requireJsonBody: RequestHandler = (request, _response, next) => {
  const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
  if (hasBody && !request.is('application/json')) {
    next(new HttpError(415, 'unsupported_media_type', 'Send the body as application/json'));
    return;
  }
  next();
};

/** Reads the JSON body with the limits installJsonBodyParser set on the app. */
export const readJsonBody: RequestHandler = (request, response, next) => {
  const [checkType, parse] = request.app.get(parserSetting) as [RequestHandler, RequestHandler] | undefined ?? [];
  if (!checkType || !parse) {
    next(new Error('installJsonBodyParser() was not called on this app'));
    return;
  }
  checkType(request, response, (error?: unknown) => (error ? next(error) : parse(request, response, next)));
};
