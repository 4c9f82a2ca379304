import { defineConfig } from 'tsup';
import { packageConfig } from '../../tsup.base.js';

// The command (cli.js) is ESM only; the programmatic entry (main) is ESM + CJS with types.
export default defineConfig([
  // shims: the CommonJS build needs import.meta.url (serve --demo finds the sample population beside the checkout).
  packageConfig({ main: 'src/main.ts' }, { shims: true }),
  packageConfig({ cli: 'src/cli.ts' }, { format: ['esm'], dts: false, clean: false }),
]);
