import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toHttpError } from '../src/api/errors.js';
import { Conflict, Invalid, LimitReached, NotFound } from '../src/core/errors.js';
import { repositoryRoot } from './helpers/run-node.js';

/**
 * Core throws domain errors and the API alone turns them into HTTP (issue 13): nothing but the API imports the API,
 * and a 422 `validation_failed` has one shape whoever raised it.
 */

/** Every .ts file under `folder` (a path relative to the repository), recursively. */
function typeScriptFiles(folder: string): string[] {
  return readdirSync(path.join(repositoryRoot, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.relative(repositoryRoot, path.join(entry.parentPath, entry.name)));
}

/** The relative module specifiers a file imports or re-exports, statically or with import(). */
function relativeImports(file: string): string[] {
  const text = readFileSync(path.join(repositoryRoot, file), 'utf8');
  const specifiers = [...text.matchAll(/\b(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((match) => match[1]!);
  return specifiers;
}

describe('module boundaries', () => {
  // Production code: everything but the API itself. Tests and the bench drive the API and may import it.
  const productionFolders = ['src', 'activities', 'workflows', 'scripts'];
  const apiFolder = path.join('src', 'api') + path.sep;

  it('finds the files it checks (the scan is not vacuous)', () => {
    const files = productionFolders.flatMap(typeScriptFiles);
    expect(files).toContain(path.join('src', 'core', 'endpoints.ts'));
    expect(files).toContain(path.join('activities', 'delivery.ts'));
    expect(files.filter((file) => file.startsWith(apiFolder)).length).toBeGreaterThan(5);
    // The API's own imports of itself are seen, so an import of it from elsewhere would be too.
    expect(relativeImports(path.join('src', 'api', 'app.ts'))).toContain('./errors.js');
  });

  it('nothing outside src/api imports from src/api', () => {
    const offenders = productionFolders
      .flatMap(typeScriptFiles)
      .filter((file) => !file.startsWith(apiFolder))
      .flatMap((file) =>
        relativeImports(file)
          .filter((specifier) => path.relative(repositoryRoot, path.resolve(repositoryRoot, path.dirname(file), specifier)).startsWith(apiFolder))
          .map((specifier) => `${file} imports ${specifier}`),
      );
    expect(offenders).toEqual([]);
  });

  it('nothing outside workflows/ imports a workflow file: only workflows/contracts.ts', () => {
    const workflowsFolder = 'workflows' + path.sep;
    const allowed = new Set([path.join('workflows', 'contracts.ts'), path.join('workflows', 'retry-policies.ts')]);
    const offenders = [...productionFolders, 'bench', 'test']
      .flatMap(typeScriptFiles)
      .filter((file) => !file.startsWith(workflowsFolder))
      .flatMap((file) =>
        relativeImports(file)
          .map((specifier) => [specifier, path.relative(repositoryRoot, path.resolve(repositoryRoot, path.dirname(file), specifier)).replace(/\.js$/, '.ts')] as const)
          .filter(([, target]) => target.startsWith(workflowsFolder) && !allowed.has(target))
          .map(([specifier]) => `${file} imports ${specifier}`),
      );
    // The one exception: the test that checks what workflows/index.ts exports.
    expect(offenders.filter((offender) => !offender.startsWith(path.join('test', 'workflow-histories.test.ts')))).toEqual([]);
  });
});

describe('domain errors as HTTP (src/api/errors.ts)', () => {
  it('answers Invalid with 422 validation_failed, "<field>: <message>" and the issues as details', () => {
    const error = toHttpError(new Invalid([{ field: 'body.url', message: 'must be https', code: 'invalid_url' }, { field: 'body.timeout', message: 'too long', code: 'too_big' }]));
    expect({ status: error.status, code: error.code, message: error.message, details: error.details }).toEqual({
      status: 422,
      code: 'validation_failed',
      message: 'body.url: must be https',
      details: [
        { field: 'body.url', message: 'must be https', code: 'invalid_url' },
        { field: 'body.timeout', message: 'too long', code: 'too_big' },
      ],
    });
  });

  it('maps a stray ZodError with the same mapper as request validation (one issue per unknown key)', () => {
    const parsed = z.object({ a: z.string() }).strict().safeParse({ a: 1, b: 1, c: 1 });
    const error = toHttpError(parsed.error);
    expect(error.status).toBe(422);
    expect((error.details as { field: string; code: string }[]).map((detail) => [detail.field, detail.code])).toEqual([
      ['body.a', 'invalid_type'],
      ['body.b', 'unrecognized_keys'],
      ['body.c', 'unrecognized_keys'],
    ]);
    expect(error.message).toBe(`body.a: ${(error.details as { message: string }[])[0]!.message}`);
  });

  it('answers text PostgreSQL cannot store in the same 422 shape', () => {
    const error = toHttpError(Object.assign(new Error('invalid byte sequence'), { code: '22021' }));
    expect({ status: error.status, code: error.code, message: error.message }).toEqual({ status: 422, code: 'validation_failed', message: `request: ${(error.details as { message: string }[])[0]!.message}` });
  });

  it('keeps 409 conflict for limits (as the API always answered) and for conflicts, 404 for NotFound', () => {
    const limit = toHttpError(new LimitReached('This tenant has reached its limit of 2 endpoints', { max_endpoints: 2 }));
    expect([limit.status, limit.code, limit.details]).toEqual([409, 'conflict', { max_endpoints: 2 }]);
    const conflict = toHttpError(new Conflict('reused key', { idempotency_key: 'k' }));
    expect([conflict.status, conflict.code]).toEqual([409, 'conflict']);
    const missing = toHttpError(new NotFound('Endpoint'));
    expect([missing.status, missing.code, missing.message]).toEqual([404, 'not_found', 'Endpoint not found']);
  });
});
