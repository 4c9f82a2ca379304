import { packageConfig } from '../../tsup.base.js';

// shims: the CommonJS build needs import.meta.url for the bundled demo principals file (data/demo-principals.json).
export default packageConfig(undefined, { shims: true });
