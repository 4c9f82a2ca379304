import { packageConfig } from '../../tsup.base.js';

// The command is ESM only; only the programmatic entry (main) needs types.
export default packageConfig({ cli: 'src/cli.ts', main: 'src/main.ts' }, { format: ['esm'], dts: { entry: { main: 'src/main.ts' } } });
