/**
 * The small part of semver that adapter registration needs: `x.y.z` versions and ranges written with
 * `^`, `~`, comparators (`>=`, `>`, `<=`, `<`, `=`), x-ranges (`1.x`, `*`), hyphen ranges (`1.2.3 - 2.0.0`),
 * space (and) and `||` (or). Prerelease tags are refused: the engine publishes plain versions.
 * @module
 */

type Version = readonly [number, number, number];

const VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

/** `[major, minor, patch]`, or `undefined` when `text` is not a plain `x.y.z` version. */
export function parseVersion(text: string): Version | undefined {
  const m = VERSION.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

type Comparator = (v: Version) => boolean;

/** A partial version such as `1`, `1.2`, `1.x`, `*`: the numbers given, `undefined` for wildcards. */
function partial(text: string): [number | undefined, number | undefined, number | undefined] | undefined {
  if (!/^(\*|x|X|\d+)(\.(\*|x|X|\d+)){0,2}$/.test(text)) return undefined;
  const parts = text.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : undefined));
  return [parts[0], parts[1], parts[2]];
}

/** The half-open interval [low, high) a partial version stands for. */
function span(p: NonNullable<ReturnType<typeof partial>>): [Version, Version | undefined] {
  const [a, b, c] = p;
  if (a === undefined) return [[0, 0, 0], undefined];
  if (b === undefined) return [[a, 0, 0], [a + 1, 0, 0]];
  if (c === undefined) return [[a, b, 0], [a, b + 1, 0]];
  return [[a, b, c], [a, b, c + 1]];
}

function comparator(token: string): Comparator | undefined {
  const m = /^(\^|~|>=|<=|>|<|=)?(.+)$/.exec(token);
  if (!m) return undefined;
  const op = m[1] ?? '';
  const p = partial(m[2]!);
  if (!p) return undefined;
  const [low, high] = span(p);
  const [a, b, c] = p;
  switch (op) {
    case '':
    case '=':
      return (v) => compare(v, low) >= 0 && (high === undefined || compare(v, high) < 0);
    case '>=':
      return (v) => compare(v, low) >= 0;
    case '>':
      return high === undefined ? () => false : (v) => compare(v, high) >= 0;
    case '<':
      return (v) => compare(v, low) < 0;
    case '<=':
      return (v) => high === undefined || compare(v, high) < 0;
    case '~': {
      const top: Version | undefined = a === undefined ? undefined : b === undefined ? [a + 1, 0, 0] : [a, b + 1, 0];
      return (v) => compare(v, low) >= 0 && (top === undefined || compare(v, top) < 0);
    }
    case '^': {
      // Caret: changes that do not modify the left-most non-zero part.
      let top: Version | undefined;
      if (a === undefined) top = undefined;
      else if (a > 0 || b === undefined) top = [a + 1, 0, 0];
      else if (b > 0 || c === undefined) top = [0, b + 1, 0];
      else top = [0, 0, c + 1];
      return (v) => compare(v, low) >= 0 && (top === undefined || compare(v, top) < 0);
    }
  }
  return undefined;
}

/** The range as a predicate, or `undefined` when it is not a range this module understands. */
export function parseRange(range: string): ((version: string) => boolean) | undefined {
  if (range.trim() === '') return undefined;
  const alternatives: Comparator[][] = [];
  for (const alt of range.split('||')) {
    const hyphen = /^\s*(\S+)\s+-\s+(\S+)\s*$/.exec(alt);
    const tokens = hyphen ? [`>=${hyphen[1]}`, `<=${hyphen[2]}`] : alt.trim().split(/\s+/).filter(Boolean);
    if (tokens.length === 0) return undefined;
    const set: Comparator[] = [];
    for (const token of tokens) {
      const c = comparator(token);
      if (!c) return undefined;
      set.push(c);
    }
    alternatives.push(set);
  }
  return (version) => {
    const v = parseVersion(version);
    return v !== undefined && alternatives.some((set) => set.every((c) => c(v)));
  };
}

/** True when `version` lies in `range`; false for a malformed version or range. */
export function satisfies(version: string, range: string): boolean {
  return parseRange(range)?.(version) ?? false;
}
