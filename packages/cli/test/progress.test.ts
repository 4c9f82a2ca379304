// Issue 12 §10: long commands draw a bar with a total and an ETA on a terminal, and nothing when not a terminal.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, type Io } from '@caregaps/cli';
import { ROOT } from './run.js';

const SAMPLE = join(ROOT, 'examples/sample-population');

/** Runs the command with stderr as a terminal whose drawing is captured. */
async function onTerminal(interactive: boolean, ...argv: string[]): Promise<{ code: number; drawn: string; out: string }> {
  let drawn = '';
  let out = '';
  const terminal = {
    isTTY: true,
    columns: 200,
    write: (text: string) => ((drawn += text), true),
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
    on: () => terminal,
    removeListener: () => terminal,
  } as unknown as NodeJS.WritableStream;
  const io: Io = { out: (t) => void (out += t), err: () => {}, interactive, progressStream: terminal };
  const code = await main(argv, io);
  return { code, drawn, out };
}

describe('progress bars', () => {
  const records = join(SAMPLE, 'records.ndjson');
  const kB = Math.ceil(statSync(records).size / 1024);

  it('evaluate: records read against the file size, with an ETA', async () => {
    const { code, drawn } = await onTerminal(true, 'evaluate', '--input', records, '--as-of', '2025-03-31', '--summary');
    expect(code).toBe(0);
    expect(drawn).toContain(`/${kB} kB`);
    expect(drawn).toMatch(/eta \S+/);
    expect(drawn).toContain(`${kB}/${kB} kB`); // it finishes
  });

  it('report: one stage per achievement date plus reading', async () => {
    const output = join(mkdtempSync(join(tmpdir(), 'caregaps-progress-')), 'report.html');
    const { code, drawn } = await onTerminal(true, 'report', '--input', records, '--orgs', join(SAMPLE, 'organisations.ndjson'), '--as-of', '2025-03-31', '--trend', '2024-03-31', '--registry', 'diabetes', '--output', output);
    expect(code).toBe(0);
    expect(drawn).toContain('3/3 stages');
  });

  it('draws nothing when stderr is not a terminal', async () => {
    const { code, drawn } = await onTerminal(false, 'evaluate', '--input', records, '--as-of', '2025-03-31', '--summary');
    expect(code).toBe(0);
    expect(drawn).toBe('');
  });
});
