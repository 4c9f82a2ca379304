/**
 * B3 schema strictness: the bundled registries mutated so that each mutant is invalid by construction (an unknown
 * key, a `__proto__` key, a value replaced by an object no schema position accepts, a duplicate YAML key, an unknown
 * operator, fact or cluster). Every mutant must be refused with a coded error that says where (line:column or a JSON
 * pointer).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineCounter, isScalar, parse, parseDocument, stringify, visit } from 'yaml';
import { CaregapsError, CodesetIndex, loadCodesets, parseRegistry } from '@caregaps/core';
import { CODESETS, REGISTRIES } from './fixtures/codesets.js';
import { fuzzSeed } from './fuzz-seed.js';

const SEED = fuzzSeed('B3 schema mutants');
const index = new CodesetIndex(loadCodesets(CODESETS));
const sources = readdirSync(REGISTRIES)
  .filter((d) => !d.includes('.'))
  .map((d) => readFileSync(join(REGISTRIES, d, 'registry.yaml'), 'utf8'));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

function nodes(value: Json, path: Path = [], out: { path: Path; value: Json }[] = []): { path: Path; value: Json }[] {
  out.push({ path, value });
  if (Array.isArray(value)) value.forEach((v, i) => nodes(v, [...path, i], out));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) nodes(v, [...path, k], out);
  return out;
}

function at(doc: Json, path: Path): any {
  return path.reduce<any>((v, k) => v[k], doc);
}

/**
 * The lines (0-based) that hold a whole block-mapping entry `key: scalar`, read from the YAML syntax tree: a copy of
 * such a line placed after it is a second entry with the same key in the same mapping. (A line that merely looks like
 * `word: text` may be inside a block scalar, where a copy is just more text.)
 */
function pairLines(source: string): number[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter });
  const lineOf = (offset: number) => lineCounter.linePos(offset).line - 1;
  const out: number[] = [];
  visit(doc, {
    Map(_, map) {
      if (map.flow) return;
      for (const { key, value } of map.items) {
        if (!isScalar(key) || !isScalar(value) || !key.range || !value.range) continue;
        if (value.type === 'BLOCK_FOLDED' || value.type === 'BLOCK_LITERAL') continue;
        const line = lineOf(key.range[0]);
        const start = source.lastIndexOf('\n', key.range[0] - 1) + 1;
        // The entry starts its line (not `- key:`, the first entry of a sequence item) and ends on it.
        if (source.slice(start, key.range[0]).trim() === '' && lineOf(value.range[1] - 1) === line) out.push(line);
      }
    },
  });
  return out;
}

const KINDS = ['unknown key', '__proto__ key', 'leaf replaced by an object', 'duplicate key', 'unknown operator', 'unknown fact', 'unknown cluster'] as const;
type Kind = (typeof KINDS)[number];

/**
 * The mutant's text (and, for a duplicate key, the 1-based line of the copy), or undefined when the document has no
 * place for this kind of mutation.
 */
function mutant(source: string, kind: Kind, pick: number): { text: string; duplicateLine?: number } | undefined {
  const doc = parse(source) as Json;
  const all = nodes(doc);
  const choose = <T>(list: T[]) => (list.length ? list[pick % list.length] : undefined);
  const objects = all.filter((n) => n.value !== null && typeof n.value === 'object' && !Array.isArray(n.value));
  const conditions = objects.filter((n) => typeof (n.value as Record<string, Json>)['operator'] === 'string');
  switch (kind) {
    case 'unknown key': {
      const o = choose(objects)!;
      at(doc, o.path)['not a key'] = 1;
      return { text: stringify(doc) };
    }
    case '__proto__ key': {
      const o = choose(objects)!;
      Object.defineProperty(at(doc, o.path), '__proto__', { value: { polluted: 1 }, enumerable: true, configurable: true, writable: true });
      return { text: stringify(doc) };
    }
    case 'leaf replaced by an object': {
      // Only where the schema wants a string, number or boolean (not a condition's free `value`).
      const leaves = all.filter((n) => n.path.length > 0 && (n.value === null || typeof n.value !== 'object') && n.path.at(-1) !== 'value');
      const leaf = choose(leaves)!;
      at(doc, leaf.path.slice(0, -1))[leaf.path.at(-1)!] = { 'not a key': 1 };
      return { text: stringify(doc) };
    }
    case 'duplicate key': {
      const lines = source.split('\n');
      const i = choose(pairLines(source))!;
      lines.splice(i + 1, 0, lines[i]!);
      return { text: lines.join('\n'), duplicateLine: i + 2 };
    }
    case 'unknown operator': {
      const c = choose(conditions);
      if (!c) return undefined;
      at(doc, c.path)['operator'] = 'matchesRegex';
      return { text: stringify(doc) };
    }
    case 'unknown fact': {
      const c = choose(conditions);
      if (!c) return undefined;
      at(doc, c.path)['fact'] = 'NOT_A_FIELD_ANYWHERE';
      return { text: stringify(doc) };
    }
    case 'unknown cluster': {
      const fields = objects.filter((n) => n.path[0] === 'fields' && n.path.length === 2 && typeof (n.value as Record<string, Json>)['latest'] === 'string');
      const f = choose(fields);
      if (!f) return undefined;
      at(doc, f.path)['latest'] = 'NOSUCHCLUSTER_COD';
      return { text: stringify(doc) };
    }
  }
}

describe('B3 schema strictness', () => {
  it('the unmutated registries load', () => {
    for (const s of sources) expect(() => parseRegistry(s, 'r.yaml', { codesets: index })).not.toThrow();
  });

  it('regression (seed 846155955): a line inside a block scalar that reads `word: text` is prose, not a key', () => {
    // heart-failure-lvsd's folded `description` has a line starting `fraction: `; a copy of it is more prose.
    const source = readFileSync(join(REGISTRIES, 'heart-failure-lvsd', 'registry.yaml'), 'utf8');
    const lines = source.split('\n');
    const i = lines.findIndex((l) => l.startsWith('  fraction: '));
    expect(i).toBeGreaterThan(0);
    expect(pairLines(source)).not.toContain(i);
    lines.splice(i + 1, 0, lines[i]!);
    expect(() => parseRegistry(lines.join('\n'), 'r.yaml', { codesets: index })).not.toThrow();
  });

  it('every invalid mutant is refused with a coded error that says where', () => {
    let tried = 0;
    let acceptedInvalid = 0;
    let located = 0;
    const codes = new Map<string, number>();
    fc.assert(
      fc.property(fc.nat({ max: sources.length - 1 }), fc.constantFrom(...KINDS), fc.nat(), (s, kind, pick) => {
        const m = mutant(sources[s]!, kind, pick);
        if (m === undefined) return;
        tried++;
        try {
          parseRegistry(m.text, 'mutant.yaml', { codesets: index });
          acceptedInvalid++;
          expect.unreachable(`accepted a ${kind} mutant`);
        } catch (error) {
          expect(error).toBeInstanceOf(CaregapsError);
          const e = error as CaregapsError;
          codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
          const p = e.problems[0];
          if (p && ((p.line !== undefined && p.column !== undefined) || p.pointer !== undefined)) located++;
          // Refused for the duplicate itself, at the copy.
          if (m.duplicateLine !== undefined) {
            expect(e.code).toBe('CG_RULE_SYNTAX');
            expect(p?.message).toMatch(/unique/);
            expect(p?.line).toBe(m.duplicateLine);
          }
        }
      }),
      { numRuns: 300, seed: SEED },
    );
    console.log(
      `B3 schema strictness (seed ${SEED}): mutants tried ${tried}; accepted invalid ${acceptedInvalid}; refused with a location ${((100 * located) / tried).toFixed(1)} %; ` +
        `codes ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`,
    );
    expect(acceptedInvalid).toBe(0);
    expect(located).toBe(tried);
  }, 180_000);
});
