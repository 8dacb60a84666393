import { Liquid, type Template } from 'liquidjs';
import { z } from 'zod';
import { Invalid, type FieldIssue } from './errors.js';
import { buildHeraldFields, type EnvelopeInput } from './envelope.js';

/**
 * Payload templates (issue 16): an endpoint may send, instead of an envelope, a Liquid template rendered over the
 * herald envelope's fields (`event_id`, `delivery_id`, `event_type`, `schema_version`, `trace_id`, `created_at`,
 * `data`). Liquid (liquidjs) because it is a template language made to run untrusted templates: no code, no module
 * loading, and liquidjs is maintained, typed, dependency-free and has DoS limits built in (parse size, render time,
 * memory). Here it is also cut off from the file system: templates resolve from an empty in-memory map, the tags that
 * load other templates (`include`, `render`, `layout`, `block`) do not exist (a template using one does not compile),
 * unknown filters fail at compile time, and only the context's own properties are readable (no `constructor`, no
 * prototype).
 */

export const templateEngines = ['liquid'] as const;

/** The rendered body's limit: a larger one fails the render (a failed attempt at delivery time). */
export const templateOutputLimitBytes = 256 * 1024;
/** How long one render may take. */
export const templateRenderLimitMs = 250;
/** The longest template source. */
export const templateSourceLimit = 64 * 1024;

const mediaTypePattern = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[ -~]*"|[A-Za-z0-9!#$&^_.+-]+))*$/;

export const templateSchema = z
  .object({
    engine: z.enum(templateEngines).describe('liquid (LiquidJS, sandboxed: no files, no includes)'),
    source: z
      .string()
      .min(1)
      .max(templateSourceLimit)
      .describe('The template, rendered over {event_id, delivery_id, event_type, schema_version, trace_id, created_at, data}; `| json` writes a value as JSON'),
    content_type: z
      .string()
      .max(200)
      .regex(mediaTypePattern, 'must be a media type such as application/json or text/plain; charset=utf-8')
      .default('application/json')
      .describe('The Content-Type sent; with a JSON type (application/json, text/json, …+json) the rendered body must parse as JSON'),
    strict_variables: z
      .boolean()
      .default(true)
      .describe('A variable missing from the event fails the render (a failed attempt, error_class template) instead of rendering as empty'),
  })
  .strict();

export type EndpointTemplate = z.output<typeof templateSchema>;

/** The render's failure: the template does not fit this event (a missing variable, the limits, JSON that does not parse). */
export class TemplateRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateRenderError';
  }
}

const liquid = new Liquid({
  templates: {},
  strictFilters: true,
  ownPropertyOnly: true,
  parseLimit: templateSourceLimit,
  renderLimit: templateRenderLimitMs,
  // Bounds what ranges, joins and concatenations allocate on the way to the output.
  memoryLimit: 16 * templateOutputLimitBytes,
});
for (const tag of ['include', 'render', 'layout', 'block']) delete liquid.tags[tag];

/** application/json, application/problem+json, text/json…: the rendered body must be JSON. */
export function isJsonContentType(contentType: string): boolean {
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  return mediaType === 'application/json' || mediaType === 'text/json' || mediaType.endsWith('+json');
}

/** `line 2, column 5: tag "include" not found`, without the source excerpt liquidjs appends. */
function describe(error: unknown): string {
  const err = error as { message?: string; token?: { getPosition?: () => [number, number] } };
  const message = (err.message ?? String(error)).split('\n')[0]!.replace(/, line:\d+, col:\d+$/, '');
  const position = err.token?.getPosition?.();
  return position ? `line ${position[0]}, column ${position[1]}: ${message}` : message;
}

const compiled = new Map<string, Template[]>();

function compile(source: string): Template[] {
  let templates = compiled.get(source);
  if (!templates) {
    templates = liquid.parse(source);
    // A small cache: endpoints are few, and a delivery burst renders one template many times.
    if (compiled.size >= 500) compiled.delete(compiled.keys().next().value!);
    compiled.set(source, templates);
  }
  return templates;
}

/** What is wrong with a template, named like the request's field (`body.template.source`); an empty list when it compiles. */
export function templateIssues(template: EndpointTemplate | null, field = 'body.template'): FieldIssue[] {
  if (!template) return [];
  try {
    compile(template.source);
    return [];
  } catch (error) {
    return [{ field: `${field}.source`, message: `does not compile: ${describe(error)}`, code: 'template_syntax' }];
  }
}

/** Throws Invalid (422) naming the line and column when the template does not compile. */
export function assertTemplateCompiles(template: EndpointTemplate | null, field?: string): void {
  const issues = templateIssues(template, field);
  if (issues.length > 0) throw new Invalid(issues);
}

/** The exact bytes to send and sign: the template rendered over the envelope's fields. Throws TemplateRenderError. */
export function renderTemplate(template: EndpointTemplate, input: EnvelopeInput): string {
  let output: string;
  try {
    // Synchronously: the time limit then measures this render alone, not the other work of a busy worker that an async
    // render would interleave with (a render failure is final, so it must not depend on load). It blocks for 250 ms at most.
    output = String(liquid.renderSync(compile(template.source), buildHeraldFields(input), { strictVariables: template.strict_variables }));
  } catch (error) {
    throw new TemplateRenderError(`template: ${describe(error)}`);
  }
  const size = Buffer.byteLength(output, 'utf8');
  if (size > templateOutputLimitBytes) throw new TemplateRenderError(`template: the rendered body is ${size} bytes, over the limit of ${templateOutputLimitBytes}`);
  if (isJsonContentType(template.content_type)) {
    try {
      JSON.parse(output);
    } catch (error) {
      // Not JSON.parse's message: it may quote the body, i.e. event data, which must stay out of workflow histories.
      const position = /at position (\d+)/.exec((error as Error).message)?.[1];
      throw new TemplateRenderError(`template: the rendered body is not valid JSON (${template.content_type})${position ? ` at position ${position}` : ''}`);
    }
  }
  return output;
}
