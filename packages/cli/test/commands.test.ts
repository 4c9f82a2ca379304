// Each command registers itself from its own file; main.ts only assembles them.
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, run } from './run.js';

const COMMANDS_DIR = join(ROOT, 'packages/cli/src/commands');

describe('command registration', () => {
  const files = readdirSync(COMMANDS_DIR).filter((f) => f.endsWith('.ts'));

  it.each(files)('%s exports register(program, context), and caregaps --help lists its command', async (file) => {
    const module = (await import(join(COMMANDS_DIR, file))) as { register?: unknown };
    expect(typeof module.register).toBe('function');
    const { code, out } = await run('--help');
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`^\\s+${basename(file, '.ts')}\\b`, 'm'));
  });
});
