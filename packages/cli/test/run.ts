// What the CLI tests share: the repository's folders, and running the command with captured output.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main, type Io } from '@caregaps/cli';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const REGISTRIES = join(ROOT, 'registries');
export const CODESETS = join(ROOT, 'codesets');

/** Runs `caregaps <argv…>` in-process and returns its exit code and what it wrote. */
export async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), interactive: false };
  const code = await main(argv, io);
  return { code, out, err };
}
