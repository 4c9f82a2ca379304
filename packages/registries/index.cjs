// The CommonJS twin of index.js (see there).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const folder = (name) => [join(__dirname, name), join(__dirname, '..', '..', name)].find((dir) => existsSync(dir)) ?? join(__dirname, name);

/** The absolute paths of the bundled `registries` and `codesets` folders. */
function bundledFolders() {
  return { registries: folder('registries'), codesets: folder('codesets') };
}

module.exports = { bundledFolders };
