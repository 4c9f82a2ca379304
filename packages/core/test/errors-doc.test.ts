import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { ERRORS } from '@caregaps/core';

it('documents every error code in docs/errors.md', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../../docs/errors.md', import.meta.url)), 'utf8');
  const undocumented = Object.keys(ERRORS).filter((code) => !doc.includes(`| \`${code}\` |`));
  expect(undocumented).toEqual([]);
});
