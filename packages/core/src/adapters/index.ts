/**
 * Source adapters: the plugin interface, registration checks, normalisation maps and linkage.
 * @module
 */
export type { AdapterMeta, AdapterOptions, AdapterItem, AdapterRecord, AdapterQuarantine, SourceAdapter, SourceInput } from './types.js';
export { AdapterRegistry, checkAdapter, readChecked, readCheckedBatches, itemsOf, ENGINE_VERSION } from './registry.js';
export { NormalisationMap, parseNormalisationMap, loadNormalisationMaps, type MapRow, type Normalised } from './normalise.js';
export { Linker } from './linkage.js';
export { TestNumberAssigner, TEST_RANGE_START } from './test-numbers.js';
export { inputName, inputText, inputChunks, jsonObjectBatches, type JsonObjectLine } from './input.js';
export { lineBatches, sourceLines, type SourceLine } from '../records/lines.js';
