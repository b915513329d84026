import { promises as fsp } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { run } from './package.process';

/**
 * The repository's own code finds its data files from `__dirname` (REPO_ROOT, the firmware
 * profiles, the xdpctl source). In one bundled file every `__dirname` would be the executable's
 * folder, so each source file's `__dirname` becomes its repository folder under the install root:
 * the package lays those files out as the repository does, below the executable's own folder.
 */
function repoDirname(repo: string): Plugin {
  return {
    name: 'repo-dirname',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        const rel = relative(repo, dirname(args.path));
        const text = await fsp.readFile(args.path, 'utf8');
        if (rel.startsWith('..') || !text.includes('__dirname')) return undefined;
        return {
          contents: text.replace(/\b__dirname\b/g, `require('node:path').join(__ioplaneRoot, ${JSON.stringify(rel)})`),
          loader: 'ts',
        };
      });
    },
  };
}

// Optional integrations of Nest and BullMQ and msgpackr's native addon, required lazily or inside try/catch and never on the
// agent's path. They become modules that throw, so the executable never asks the disk for them
// (a single executable's require() loads built-in modules only, and warns on anything else).
const NEVER_LOADED =
  /^(@nestjs\/microservices|@nestjs\/websockets|class-transformer|class-validator|@valkey\/valkey-glide|msgpackr-extract)(\/.*)?$/;

const absent: Plugin = {
  name: 'absent',
  setup(b) {
    b.onResolve({ filter: NEVER_LOADED }, (args) => ({ path: args.path, namespace: 'absent' }));
    b.onLoad({ filter: /.*/, namespace: 'absent' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the ioplane agent executable`)});`,
      loader: 'js',
    }));
  },
};

/** Bundles the agent into one CommonJS file for the single executable application. */
export async function bundleAgent(repo: string, outFile: string): Promise<void> {
  await build({
    entryPoints: [join(repo, 'apps/agent/src/main.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    tsconfig: join(repo, 'tsconfig.json'),
    plugins: [absent, repoDirname(repo)],
    // The install root is the executable's folder: /usr/lib/ioplane-agent, or wherever a test unpacked it.
    banner: { js: "const __ioplaneRoot = require('node:path').dirname(process.execPath);" },
    logLevel: 'warning',
    legalComments: 'none',
  });
}

/**
 * Node's single executable application: the bundle as a blob injected into a copy of the Node.js
 * this build runs on, so the host needs no Node.js.
 */
export async function seaExecutable(repo: string, bundle: string, out: string): Promise<void> {
  const dir = dirname(out);
  const config = join(dir, 'sea-config.json');
  const blob = join(dir, 'sea-prep.blob');
  await fsp.writeFile(
    config,
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false }),
  );
  await run(process.execPath, ['--experimental-sea-config', config]);
  await fsp.copyFile(process.execPath, out);
  await fsp.chmod(out, 0o755);
  // Debian ships the executable stripped; the blob goes in after, as an ELF note strip would not know.
  await run('strip', ['--strip-unneeded', out]);
  await run(process.execPath, [
    join(repo, 'node_modules/postject/dist/cli.js'),
    out,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ]);
  await fsp.rm(blob);
  await fsp.rm(config);
}
