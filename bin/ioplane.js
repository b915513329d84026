#!/usr/bin/env node
// The CLI runs from TypeScript sources through swc, so no build step stands between a change and the command.
require('@swc-node/register');
require('../apps/cli/src/main.ts');
