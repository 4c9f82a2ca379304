import { packageConfig } from '../../tsup.base.js';

// The partition worker is its own entry: worker threads load it by file (shims give the CJS build import.meta.url).
export default packageConfig({ index: 'src/index.ts', 'partition-worker': 'src/transport/partition-worker.ts' }, { shims: true });
