/**
 * Registry test cases, runnable from any test runner.
 * @packageDocumentation
 */
export { RegistryTester } from './tester.js';
export {
  codesetSourcesOf,
  parseTestFile,
  readTestFile,
  runCase,
  runCases,
  type RegistryTestCase,
  type RegistryTestFile,
  type CaseResult,
} from './cases.js';
