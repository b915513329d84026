// Derives jest's moduleNameMapper from tsconfig "paths", so the aliases live in one place.
const path = require('node:path');
const tsconfig = require('../tsconfig.json');

function pathsToModuleNameMapper() {
  const out = {};
  for (const [alias, [target]] of Object.entries(tsconfig.compilerOptions.paths)) {
    out[`^${alias.replace('/', '\\/')}$`] = path.join(__dirname, '..', target);
  }
  return out;
}
module.exports = { pathsToModuleNameMapper };
