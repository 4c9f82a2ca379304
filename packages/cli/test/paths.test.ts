// Issue 12 §6–7: ordinary path mistakes give a coded message and exit 2 (never a stack trace, never after the work),
// no command overwrites its own input, and registry folders are named by their ids.
import { cpSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CODESETS, REGISTRIES, ROOT, run } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'caregaps-paths-'));
const SAMPLE = join(ROOT, 'examples/sample-population');
const records = join(SAMPLE, 'records.ndjson');
const orgs = join(SAMPLE, 'organisations.ndjson');
const missingFolder = join(dir, 'no-such-folder');

describe('outputs are checked before any work', () => {
  it.each([
    ['evaluate --output', ['evaluate', '--input', records, '--as-of', '2025-03-31', '--output', join(missingFolder, 'out.ndjson')]],
    ['evaluate --quarantine', ['evaluate', '--input', records, '--as-of', '2025-03-31', '--summary', '--quarantine', join(missingFolder, 'q.ndjson')]],
    ['report --output', ['report', '--input', records, '--orgs', orgs, '--as-of', '2025-03-31', '--output', join(missingFolder, 'r.html')]],
    ['summary --output', ['summary', '--input', records, '--orgs', orgs, '--as-of', '2025-03-31', '--output', join(missingFolder, 's.csv')]],
    ['watch --output', ['watch', '--input', records, '--as-of', '2025-03-31', '--output', join(missingFolder, 'w.ndjson')]],
  ])('%s into a missing folder: CG_OUTPUT, exit 2, at once', async (_name, argv) => {
    const started = Date.now();
    const { code, err } = await run(...argv);
    expect(code).toBe(2);
    expect(err).toMatch(/does not exist[^]*\[CG_OUTPUT\]/);
    expect(err).not.toMatch(/\n\s+at /); // no stack trace
    expect(Date.now() - started).toBeLessThan(3000); // refused before reading 24 771 records
  });

  it('generate --output onto an existing file is refused and the file is left alone', async () => {
    const file = join(dir, 'existing.txt');
    writeFileSync(file, 'keep me');
    const { code, err } = await run('generate', '--output', file, '--patients', '5');
    expect(code).toBe(2);
    expect(err).toContain('[CG_OUTPUT]');
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('no command overwrites its own input (ingest --output onto the file it reads)', async () => {
    const extract = join(dir, 'extract.ndjson');
    const map = join(ROOT, 'packages/extract/maps/emis-style.yaml');
    writeFileSync(extract, '{"patient":"x"}\n');
    const { code, err } = await run('ingest', '--from', 'extract', '--map', map, extract, '--output', extract);
    expect(code).toBe(2);
    expect(err).toMatch(/is also an input[^]*\[CG_OUTPUT\]/);
    expect(readFileSync(extract, 'utf8')).toBe('{"patient":"x"}\n');
    const copy = join(dir, 'copy.ndjson');
    cpSync(records, copy);
    const same = await run('evaluate', '--input', copy, '--as-of', '2025-03-31', '--output', copy);
    expect(same.code).toBe(2);
    expect(statSync(copy).size).toBe(statSync(records).size);
  });
});

describe('missing input folders and files', () => {
  it.each([
    ['evaluate --registries', ['evaluate', '--input', records, '--as-of', '2025-03-31', '--registries', missingFolder]],
    ['evaluate --codesets', ['evaluate', '--input', records, '--as-of', '2025-03-31', '--codesets', missingFolder]],
    ['test --registries', ['test', '--registries', missingFolder]],
    ['test --codesets', ['test', '--codesets', missingFolder]],
    ['evaluate --input', ['evaluate', '--input', join(missingFolder, 'records.ndjson'), '--as-of', '2025-03-31']],
  ])('%s that does not exist: a message naming it, CG_INPUT, exit 2', async (_name, argv) => {
    const { code, err } = await run(...argv);
    expect(code).toBe(2);
    expect(err).toContain(missingFolder);
    expect(err).toContain('[CG_INPUT]');
    expect(err).not.toMatch(/\n\s+at /);
  });
});

describe('registry folders and ids', () => {
  function registriesWith(folders: Record<string, string>): string {
    const root = mkdtempSync(join(dir, 'registries-'));
    for (const [folder, from] of Object.entries(folders)) cpSync(join(REGISTRIES, from), join(root, folder), { recursive: true });
    return root;
  }

  it('two folders with one id are refused with both paths (not counted twice)', async () => {
    const registries = registriesWith({ diabetes: 'diabetes', 'diabetes-copy': 'diabetes' });
    const { code, err } = await run('evaluate', '--input', records, '--as-of', '2025-03-31', '--summary', '--registries', registries, '--codesets', CODESETS);
    expect(code).toBe(1);
    expect(err).toContain('[CG_REGISTRY_DUPLICATE_ID]');
    expect(err).toContain(join(registries, 'diabetes', 'registry.yaml'));
    expect(err).toContain(join(registries, 'diabetes-copy', 'registry.yaml'));
  });

  it('a folder named differently from its id is reported, and says which id it holds', async () => {
    const registries = registriesWith({ 'my-diabetes': 'diabetes' });
    const { code, err } = await run('evaluate', '--input', records, '--as-of', '2025-03-31', '--summary', '--registry', 'diabetes', '--registries', registries, '--codesets', CODESETS);
    expect(code).toBe(1);
    expect(err).toMatch(/my-diabetes holds registry diabetes[^]*\[CG_REGISTRY_FOLDER_NAME\]/);
  });
});

describe('the installed command', () => {
  const bin = join(ROOT, 'node_modules/.bin/caregaps');

  it('is on the documented path after set-up (npx caregaps) and --version prints only the version', async () => {
    expect(existsSync(bin)).toBe(true);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string };
    const { code, out } = await spawned(bin, ['--version']);
    expect(code).toBe(0);
    expect(out).toBe(`${version}\n`);
  });

  it('`| head` (the reader closes early): exits quietly, no EPIPE stack trace', async () => {
    const { err } = await spawned(bin, ['evaluate', '--input', records, '--as-of', '2025-03-31', '--registry', 'diabetes'], { closeAfterFirstChunk: true });
    expect(err).not.toContain('EPIPE');
    expect(err).not.toMatch(/\n\s+at /);
  });
});

function spawned(command: string, args: string[], options: { closeAfterFirstChunk?: boolean } = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: dir });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (options.closeAfterFirstChunk) child.stdout.destroy();
    });
    child.stderr.on('data', (chunk: Buffer) => void (err += chunk.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('caregaps test where a test file\u2019s codeset sources are absent (an installed package)', () => {
  it('skips that registry with the reason and counts it, and still runs the others', async () => {
    const root = mkdtempSync(join(dir, 'registries-'));
    cpSync(join(REGISTRIES, 'diabetes'), join(root, 'diabetes'), { recursive: true });
    cpSync(join(REGISTRIES, 'diabetes'), join(root, 'needs-release'), { recursive: true });
    const tests = join(root, 'needs-release', 'tests.yaml');
    writeFileSync(tests, readFileSync(tests, 'utf8').replace(/^registry: diabetes$/m, 'registry: diabetes\ncodesetsFrom: ["../no-such-release"]'));
    const { code, out } = await run('test', join(root, 'diabetes'), join(root, 'needs-release'), '--codesets', CODESETS);
    expect(code).toBe(0);
    expect(out).toMatch(/needs-release[^\n]*\n  skipped: its cases need codeset sources that are not here: [^\n]*no-such-release/);
    expect(out).toMatch(/\d+ passed, 0 failed, 1 registries skipped \(needs-release/);
  });
});
