/**
 * How deeply a JSON text nests arrays and objects, read from its bytes without parsing it.
 *
 * Every walk over parsed JSON (validation, hashing, JSON Schema checks, JSON.stringify) is recursive or
 * grows with depth, so a body nested 100,000 levels deep (200 KB) can stall the event loop for minutes or
 * overflow the stack. This scan is one pass over the bytes with a counter, so a request is refused in
 * time linear in its size before anything recursive touches it.
 */
const openBrace = 0x7b;
const closeBrace = 0x7d;
const openBracket = 0x5b;
const closeBracket = 0x5d;
const quote = 0x22;
const backslash = 0x5c;

/** The deepest nesting in `json` (0 for a scalar), or `stopAbove + 1` as soon as it is exceeded. */
export function jsonNestingDepth(json: Uint8Array | string, stopAbove = Number.POSITIVE_INFINITY): number {
  const bytes = typeof json === 'string' ? Buffer.from(json) : json;
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index];
    if (inString) {
      // Structural characters inside strings do not count; an escaped quote does not end the string.
      if (byte === backslash) index++;
      else if (byte === quote) inString = false;
    } else if (byte === quote) {
      inString = true;
    } else if (byte === openBrace || byte === openBracket) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (byte === closeBrace || byte === closeBracket) {
      depth--;
    }
  }
  return deepest;
}

/** Whether `json` nests arrays and objects deeper than `maxDepth`. */
export function jsonTooDeep(json: Uint8Array | string, maxDepth: number): boolean {
  return jsonNestingDepth(json, maxDepth) > maxDepth;
}
