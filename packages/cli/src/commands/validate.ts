import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { CaregapsError, CodesetIndex, loadCodesetLayers, parseCodeset, parseRegistry, type Problem } from '@caregaps/core';
import { parseTestFile } from '@caregaps/testing';
import { BUNDLED, EXIT, report, type Io } from '../io.js';
import { codesetSourceOption, type Register } from '../command.js';

/** `caregaps validate <files…>`: checks registry files, test files and codesets; prints every problem. */
export function validate(io: Io, files: string[], options: { codesets: string; codesetsFrom?: string[] }): number {
  let index: CodesetIndex;
  try {
    index = new CodesetIndex(loadCodesetLayers(options.codesets, options.codesetsFrom ?? []).codesets);
  } catch (error) {
    return report(io, error);
  }
  let failed = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      io.err(`${file}: cannot read (${(error as Error).message}) [CG_INPUT]\n`);
      return EXIT.usage;
    }
    try {
      if (file.endsWith('.csv')) parseCodeset(text, file);
      else if (/^tests\.(ya?ml|json)$/.test(basename(file))) parseTestFile(text, file);
      else parseRegistry(text, file, { codesets: index });
      io.out(`ok  ${file}\n`);
    } catch (error) {
      if (!(error instanceof CaregapsError)) throw error;
      failed++;
      report(io, new CaregapsError(error.code, error.message, error.problems.length ? error.problems : [{ code: error.code, message: error.message, file } as Problem]));
    }
  }
  if (failed) io.err(`${failed} of ${files.length} file(s) have problems\n`);
  return failed ? EXIT.failed : EXIT.ok;
}

/** `caregaps validate <files…>`. */
export const register: Register = (program, { io, exit }) => {
  codesetSourceOption(
    program
      .command('validate')
      .description('check registry files, test files (tests.yaml) and codesets (*.csv)')
      .argument('<files...>')
      .option('--codesets <dir>', 'codesets to check cluster names against', BUNDLED.codesets),
  ).action((files: string[], opts: { codesets: string; codesetsFrom: string[] }) => exit(validate(io, files, opts)));
};
