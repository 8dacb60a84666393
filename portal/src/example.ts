/**
 * An example payload for a JSON Schema: the schema's own `examples`/`example`/`default`/`const`/first enum value where
 * it has one, otherwise a plausible value of its type. Only what the portal needs to show a customer the shape of an
 * event; not a validator.
 */

type Schema = Record<string, unknown>;

const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

export function declaredExample(schema: Schema | null | undefined): unknown {
  if (!schema) return undefined;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if ('example' in schema) return schema.example;
  return undefined;
}

export function exampleFromSchema(schema: unknown, root: unknown = schema, depth = 0): unknown {
  if (!isSchema(schema) || depth > 8) return null;
  const declared = declaredExample(schema);
  if (declared !== undefined) return declared;
  if ('const' in schema) return schema.const;
  if ('default' in schema) return schema.default;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (typeof schema.$ref === 'string' && schema.$ref.startsWith('#/') && isSchema(root)) {
    let target: unknown = root;
    for (const part of schema.$ref.slice(2).split('/')) target = isSchema(target) ? target[decodeURIComponent(part.replace(/~1/g, '/').replace(/~0/g, '~'))] : undefined;
    return exampleFromSchema(target, root, depth + 1);
  }
  for (const key of ['oneOf', 'anyOf']) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) return exampleFromSchema(options[0], root, depth + 1);
  }
  if (Array.isArray(schema.allOf)) {
    return schema.allOf.reduce<unknown>((merged, part) => {
      const value = exampleFromSchema(part, root, depth + 1);
      return isSchema(merged) && isSchema(value) ? { ...merged, ...value } : (value ?? merged);
    }, {});
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type ?? (isSchema(schema.properties) ? 'object' : undefined)) {
    case 'object': {
      const properties = isSchema(schema.properties) ? schema.properties : {};
      return Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, exampleFromSchema(property, root, depth + 1)]));
    }
    case 'array':
      return schema.items === undefined ? [] : [exampleFromSchema(schema.items, root, depth + 1)];
    case 'string':
      switch (schema.format) {
        case 'date-time':
          return '2024-01-01T12:00:00.000Z';
        case 'date':
          return '2024-01-01';
        case 'email':
          return 'user@example.com';
        case 'uri':
        case 'url':
          return 'https://example.com/';
        case 'uuid':
          return '123e4567-e89b-12d3-a456-426614174000';
        default:
          return 'string';
      }
    case 'integer':
      return typeof schema.minimum === 'number' ? Math.ceil(schema.minimum) : 0;
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 0;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return null;
  }
}

/** An event type's example payload, as the catalog shows it: its own example, the schema's, or one made from the schema. */
export function exampleOfType(type: { example?: unknown; schema: Record<string, unknown> | null }): unknown {
  const declared = type.example ?? declaredExample(type.schema);
  if (declared !== undefined) return declared;
  return type.schema ? exampleFromSchema(type.schema) : undefined;
}
