import type { Request, Response } from 'express';
import type { z, ZodError, ZodType } from 'zod';
import { Invalid, type FieldIssue } from '../core/errors.js';

/**
 * Request validation: every handler states zod schemas for its path parameters, query and body, and
 * gets them parsed or an `Invalid` (422 `validation_failed`) whose issues name each field (`body.url`,
 * `query.limit`, `path.tenant_id`). Body schemas are strict, so unknown fields are 422 too.
 */

type Location = 'path' | 'query' | 'body';

export interface RequestSchemas {
  params?: ZodType;
  query?: ZodType;
  body?: ZodType;
}

type Parsed<S> = S extends ZodType ? z.output<S> : undefined;

export interface ValidatedRequest<S extends RequestSchemas> {
  params: Parsed<S['params']>;
  query: Parsed<S['query']>;
  body: Parsed<S['body']>;
}

/**
 * The one mapping of zod issues to field issues, under `location` (`body`, `query`, `headers.idempotency-key`):
 * one issue per field; an unknown-keys issue becomes one issue per unknown key. A refinement names its own code
 * with `params: {code}` (`not_supported`); zod's code otherwise.
 */
export function fieldIssues(error: ZodError, location: string): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    const at = [location, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: [...at, key].join('.'),
        message: issue.keys.length === 1 ? issue.message : `Unrecognized key: "${key}"`,
        code: 'unrecognized_keys',
      }));
    }
    const code = issue.code === 'custom' && typeof issue.params?.code === 'string' ? issue.params.code : issue.code;
    return [{ field: at.join('.'), message: issue.message, code }];
  });
}

/** Parses path, query and body with their schemas; throws one Invalid listing every issue of all three. */
export function validateRequest<S extends RequestSchemas>(request: Request, schemas: S): ValidatedRequest<S> {
  const issues: FieldIssue[] = [];
  const parse = (schema: ZodType | undefined, value: unknown, location: Location) => {
    if (!schema) return undefined;
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    issues.push(...fieldIssues(result.error, location));
    return undefined;
  };
  issues.push(...unstorableStrings(request.params, 'path'), ...unstorableStrings(request.query, 'query'), ...unstorableStrings(request.body, 'body'));
  const parsed = {
    params: parse(schemas.params, request.params, 'path'),
    query: parse(schemas.query, request.query, 'query'),
    // No body at all reads as {}, so bodies whose fields are all optional may be left out.
    body: parse(schemas.body, request.body ?? {}, 'body'),
  };
  if (issues.length > 0) throw new Invalid(issues);
  return parsed as ValidatedRequest<S>;
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Strings PostgreSQL cannot store, in text or in jsonb: the NUL character and lone UTF-16 surrogates.
 * Refused here, naming the field (at most 10), rather than failing as a database error further down.
 */
function unstorableStrings(root: unknown, location: Location): FieldIssue[] {
  const bad = (text: string) => text.includes('\u0000') || loneSurrogate.test(text);
  const found: FieldIssue[] = [];
  const pending: [unknown, string[]][] = [[root, [location]]];
  while (pending.length > 0 && found.length < 10) {
    const [value, at] = pending.pop()!;
    if (typeof value === 'string') {
      if (bad(value)) found.push({ field: at.join('.'), message: 'must not contain the NUL character or unpaired surrogates', code: 'invalid_string' });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) pending.push([bad(key) ? key : item, [...at, key]]);
    }
  }
  return found;
}

export type ValidatedHandler<S extends RequestSchemas> = (input: ValidatedRequest<S>, request: Request, response: Response) => unknown;

/** An Express handler that validates the request first; Express 5 forwards its rejections to the error middleware. */
export function validated<S extends RequestSchemas>(schemas: S, handler: ValidatedHandler<S>) {
  return async (request: Request, response: Response): Promise<void> => {
    await handler(validateRequest(request, schemas), request, response);
  };
}
