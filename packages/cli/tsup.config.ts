import { defineConfig } from 'tsup';
import { packageConfig } from '../../tsup.base.js';

// The command (cli.js) is ESM only; the programmatic entry (main) is ESM + CJS with types.
export default defineConfig([
  packageConfig({ main: 'src/main.ts' }),
  packageConfig({ cli: 'src/cli.ts' }, { format: ['esm'], dts: false, clean: false }),
]);
