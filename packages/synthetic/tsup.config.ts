import { packageConfig } from '../../tsup.base.js';

// The generator's worker is its own entry: worker threads load it by file (shims give the CJS build import.meta.url).
export default packageConfig({ index: 'src/index.ts', 'generate-worker': 'src/generate-worker.ts' }, { shims: true });
