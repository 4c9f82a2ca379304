/**
 * `validate` and `evaluate` on hostile rule files (issue 13, item 8): a circular alias, an alias key and deep nesting
 * end in exit 1 with file:line:column and the code, never an uncaught RangeError or a stack trace.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODESETS, REGISTRIES, ROOT, run } from './run.js';

const source = readFileSync(join(REGISTRIES, 'diabetes/registry.yaml'), 'utf8');
const HOSTILE: [string, (s: string) => string, string][] = [
  ['circular alias in a rule', (s) => s.replace('if: { fact: PAT_AGE, operator: lessThan, value: 17 }', 'if: &c { not: *c }'), 'CG_RULE_ALIASES'],
  ['alias used as a key', (s) => s.replace(/^fields:\n/m, 'x: &k __proto__\n*k : { polluted: 1 }\nfields:\n'), 'CG_RULE_FORBIDDEN_KEY'],
  ['nesting 5,000 deep', (s) => s.replace(/^fields:\n/m, `deep: ${'['.repeat(5000)}${']'.repeat(5000)}\nfields:\n`), 'CG_RULE_NESTING'],
];

describe('hostile rule files at the command line', () => {
  it.each(HOSTILE)('%s: validate and evaluate exit 1 with file:line:column and the code', async (_name, edit, code) => {
    const folder = mkdtempSync(join(tmpdir(), 'caregaps-hostile-'));
    const file = join(folder, 'diabetes', 'registry.yaml');
    cpSync(join(REGISTRIES, 'diabetes'), join(folder, 'diabetes'), { recursive: true });
    writeFileSync(file, edit(source));
    const validated = await run('validate', file);
    const evaluated = await run('evaluate', '--registries', folder, '--codesets', CODESETS, '--input', join(ROOT, 'examples/sample-population/records.ndjson'), '--as-of', '2025-03-31');
    for (const result of [validated, evaluated]) {
      expect(result.code).toBe(1);
      expect(result.err).toMatch(new RegExp(`${file}:\\d+:\\d+: .*\\[${code}\\]`));
      expect(result.err).not.toMatch(/RangeError|Maximum call stack|\n\s+at /);
    }
  });
});
