import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { transformFile } from '@swc/core';
import { buildDeb, lintianOverrides, type DebSpec } from './deb';
import { run } from './package.process';

export const CONTROLLER_PACKAGE = 'ioplane';
const ROOT = 'usr/lib/ioplane';
/** Data the controller reads beside its code: the catalog, device models, examples. */
const DATA = ['firmware-profiles', 'modules', 'placements', 'fleets', 'scenarios'];
/** The compiler's toolchain and sandbox, the kernel verifier, the system's Redis, adduser for the service user. */
const DEPENDS = ['adduser', 'redis-server', 'clang', 'llvm', 'bpftool', 'libbpf-dev', 'bubblewrap', 'iproute2'];

async function* sources(dir: string): AsyncGenerator<string> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'testing' && e.name !== 'node_modules') yield* sources(p);
    } else yield p;
  }
}

/**
 * apps/ and libs/ as CommonJS beside their assets, in the repository's layout (the code finds its
 * data from REPO_ROOT). swc keeps the decorator metadata Nest's dependency injection reads and
 * rewrites the @ioplane/* aliases to relative paths.
 */
async function transpile(repo: string, root: string): Promise<void> {
  const tsconfig = JSON.parse(readFileSync(join(repo, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: { paths: Record<string, string[]> };
  };
  for (const top of ['apps', 'libs']) {
    for await (const file of sources(join(repo, top))) {
      const rel = relative(repo, file);
      if (/\.(spec|e2e-spec)\.ts$/.test(rel) || rel.endsWith('.d.ts')) continue;
      const out = join(root, rel.replace(/\.ts$/, '.js'));
      await fsp.mkdir(dirname(out), { recursive: true });
      if (!rel.endsWith('.ts')) {
        await fsp.copyFile(file, out);
        continue;
      }
      const r = await transformFile(file, {
        swcrc: false,
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
          baseUrl: repo,
          paths: tsconfig.compilerOptions.paths,
        },
        module: { type: 'commonjs' },
        sourceMaps: false,
      });
      await fsp.writeFile(out, r.code);
    }
  }
}

const JUNK =
  /^(\.eslintrc.*|\.npmignore|\.gitignore|\.gitattributes|\.travis\.yml|\.editorconfig|\.prettierrc.*|.*\.d\.[cm]?ts|.*\.map|.*\.md|.*\.markdown|.*\.musl\.node)$/i;

/**
 * Trims the npm tree to what runs: no type declarations, maps, docs or tool configs, no musl
 * builds of native addons; nothing in it is run directly, so nothing stays executable (the runtime
 * loads .node addons with dlopen), and the glibc addons are stripped like any Debian library.
 */
async function pruneNodeModules(dir: string): Promise<void> {
  // Pulled in as an optional peer of a validator; nothing imports it at run time.
  await fsp.rm(join(dir, 'typescript'), { recursive: true, force: true });
  await fsp.rm(join(dir, '.bin'), { recursive: true, force: true });
  const addons: string[] = [];
  const visit = async (d: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await visit(p);
      else if (!e.isFile()) continue;
      else if (JUNK.test(e.name)) await fsp.rm(p);
      else {
        await fsp.chmod(p, 0o644);
        if (e.name.endsWith('.node')) addons.push(p);
      }
    }
  };
  await visit(dir);
  if (addons.length) await run('strip', ['--strip-unneeded', ...addons]);
}

export async function buildControllerPackage(
  repo: string,
  work: string,
  outDir: string,
  version: string,
  arch: string,
  agentPackage?: Promise<string>,
): Promise<string> {
  const stage = join(work, 'controller-root');
  await fsp.rm(stage, { recursive: true, force: true });
  const root = join(stage, ROOT);
  await fsp.mkdir(join(root, 'bin'), { recursive: true });
  await transpile(repo, root);
  for (const d of DATA) if (existsSync(join(repo, d))) await fsp.cp(join(repo, d), join(root, d), { recursive: true });
  // Production dependencies exactly as locked, without install scripts (nothing is compiled on the build host).
  await fsp.copyFile(join(repo, 'package.json'), join(root, 'package.json'));
  await fsp.copyFile(join(repo, 'package-lock.json'), join(root, 'package-lock.json'));
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root });
  await fsp.rm(join(root, 'package-lock.json'));
  await pruneNodeModules(join(root, 'node_modules'));
  // The Node.js this build runs on: Debian 12's own is too old (18), so the package brings its runtime.
  await fsp.copyFile(process.execPath, join(root, 'bin/node'));
  await run('strip', ['--strip-unneeded', join(root, 'bin/node')]);
  const agentDeb = await agentPackage;
  if (agentDeb) {
    // The agent package the API serves to machines MAAS deploys (GET /v1/agent-package).
    await fsp.mkdir(join(stage, 'usr/share/ioplane/agent'), { recursive: true });
    await fsp.copyFile(agentDeb, join(stage, 'usr/share/ioplane/agent', agentDeb.split('/').pop()!));
  }
  await fsp.mkdir(join(stage, 'usr/bin'), { recursive: true });
  await fsp.copyFile(join(repo, 'packaging/controller/ioplane'), join(stage, 'usr/bin/ioplane'));
  await fsp.chmod(join(stage, 'usr/bin/ioplane'), 0o755);
  await fsp.mkdir(join(stage, 'lib/systemd/system'), { recursive: true });
  for (const u of ['ioplane-api.service', 'ioplane-worker.service'])
    await fsp.copyFile(join(repo, 'packaging/controller', u), join(stage, 'lib/systemd/system', u));
  await fsp.mkdir(join(stage, 'etc/ioplane'), { recursive: true });
  await fsp.copyFile(join(repo, 'packaging/controller/ioplane.env'), join(stage, 'etc/ioplane/ioplane.env'));
  await fsp.chmod(join(stage, 'etc/ioplane/ioplane.env'), 0o640);
  await lintianOverrides(stage, CONTROLLER_PACKAGE, [
    // Node.js links its own zlib, and the locked npm dependencies are shipped as they are.
    'embedded-library zlib [usr/lib/ioplane/bin/node]',
    'hardening-no-pie [usr/lib/ioplane/bin/node]',
    // Holds the MAAS key: the postinst gives it to root:ioplane 0640.
    'non-standard-file-perm 0640 != 0644 [etc/ioplane/ioplane.env]',
  ]);
  const script = (n: string) => fsp.readFile(join(repo, 'packaging/controller', n), 'utf8');
  const spec: DebSpec = {
    name: CONTROLLER_PACKAGE,
    version,
    arch,
    section: 'net',
    summary: 'controller placing eBPF/XDP IO modules across a MAAS fleet',
    description: `The controller of the ioplane programmable IO plane: the REST API
(ioplane-api.service) and the job workers (ioplane-worker.service) that sync
the fleet from MAAS, plan where each IO module runs (host XDP, SmartNIC or
DPU), deploy machines with the agent, and roll modules out in waves.

Settings are in /etc/ioplane/ioplane.env; state lives in the system's
redis-server. Ships its own Node.js runtime.`,
    depends: DEPENDS,
    elves: [join(ROOT, 'bin/node')],
    conffiles: ['/etc/ioplane/ioplane.env'],
    scripts: { postinst: await script('postinst'), prerm: await script('prerm'), postrm: await script('postrm') },
  };
  return buildDeb(stage, spec, outDir);
}
