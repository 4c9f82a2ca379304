const PLAIN = /^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$/;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The only `pathResolver` Caregaps gives json-rules-engine: plain `$.a.b` property paths over own properties.
 * json-rules-engine's default hands paths to jsonpath-plus, whose script evaluation has had remote-code-execution
 * advisories (GHSA-pppg-cpfq-h7wr, GHSA-hw8r-x6gr-5gjp); anything but a plain path resolves to `undefined` here
 * and nothing in it is evaluated.
 */
export function resolvePlainPath(value: unknown, path: string): unknown {
  if (typeof path !== 'string' || !PLAIN.test(path)) return undefined;
  let current: unknown = value;
  for (const key of path.slice(2).split('.')) {
    if (FORBIDDEN.has(key) || current === null || typeof current !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
