import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { run } from './package.process';

export const MAINTAINER = 'ioplane developers <ioplane@lists.example.org>';

export interface DebSpec {
  name: string;
  version: string;
  arch: string;
  section: string;
  summary: string;
  description: string;
  /** Dependencies besides the shared libraries of `elves`, which dpkg-shlibdeps works out. */
  depends: string[];
  recommends?: string[];
  /** ELF files in the tree whose libraries become dependencies. */
  elves: string[];
  /** Absolute paths of configuration files: dpkg keeps an operator's edits on upgrade. */
  conffiles: string[];
  scripts: Partial<Record<'postinst' | 'prerm' | 'postrm', string>>;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

/** The libraries an executable links, as Depends entries with the versions the build's system requires. */
async function shlibDepends(stage: string, elves: string[]): Promise<string[]> {
  if (elves.length === 0) return [];
  // dpkg-shlibdeps wants a source package around it; a minimal debian/control is enough.
  const tmp = await fsp.mkdtemp(join(stage, '..', 'shlibs-'));
  try {
    await fsp.mkdir(join(tmp, 'debian'));
    await fsp.writeFile(join(tmp, 'debian', 'control'), 'Source: ioplane\n\nPackage: ioplane\nArchitecture: any\n');
    const out = await run('dpkg-shlibdeps', ['-O', '--ignore-missing-info', ...elves.map((e) => join(stage, e))], { cwd: tmp });
    const line = out.split('\n').find((l) => l.startsWith('shlibs:Depends='));
    return line
      ? line
          .slice('shlibs:Depends='.length)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

function controlFile(spec: DebSpec, depends: string[], installedKb: number): string {
  const body = spec.description
    .trim()
    .split('\n')
    .map((l) => (l.trim() ? ` ${l.trim()}` : ' .'))
    .join('\n');
  return [
    `Package: ${spec.name}`,
    `Version: ${spec.version}`,
    `Architecture: ${spec.arch}`,
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${installedKb}`,
    `Depends: ${depends.join(', ')}`,
    ...(spec.recommends?.length ? [`Recommends: ${spec.recommends.join(', ')}`] : []),
    `Section: ${spec.section}`,
    'Priority: optional',
    'Homepage: https://ioplane.example.org/',
    `Description: ${spec.summary}`,
    body,
    '',
  ].join('\n');
}

/** The documentation every Debian package carries: copyright and a changelog. */
export async function writeDocs(stage: string, name: string, version: string): Promise<void> {
  const doc = join(stage, 'usr/share/doc', name);
  await fsp.mkdir(doc, { recursive: true });
  await fsp.writeFile(
    join(doc, 'copyright'),
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      'Upstream-Name: ioplane',
      '',
      'Files: *',
      `Copyright: ${new Date().getUTCFullYear()} ioplane developers`,
      'License: Apache-2.0',
      '',
      'License: Apache-2.0',
      ' On Debian systems, the full text of the Apache License 2.0 is in',
      ' /usr/share/common-licenses/Apache-2.0.',
      '',
    ].join('\n'),
  );
  const date = new Date().toUTCString().replace('GMT', '+0000');
  const changelog = `${name} (${version}) unstable; urgency=medium\n\n  * Built from the ioplane repository.\n\n -- ${MAINTAINER}  ${date}\n`;
  await fsp.writeFile(join(doc, 'changelog.gz'), gzipSync(Buffer.from(changelog), { level: 9 }));
}

/** Findings that are the point of the package, each with its reason in a comment beside it. */
export async function lintianOverrides(stage: string, name: string, tags: string[]): Promise<void> {
  const dir = join(stage, 'usr/share/lintian/overrides');
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(join(dir, name), tags.map((t) => `${name}: ${t}`).join('\n') + '\n');
}

/** Writes DEBIAN/ (control, conffiles, maintainer scripts, md5sums) into `stage` and builds the .deb with dpkg-deb. */
export async function buildDeb(stage: string, spec: DebSpec, outDir: string): Promise<string> {
  const debian = join(stage, 'DEBIAN');
  await fsp.rm(debian, { recursive: true, force: true });
  await writeDocs(stage, spec.name, spec.version);
  const sums: string[] = [];
  let bytes = 0;
  for await (const f of walk(stage)) {
    const data = await fsp.readFile(f);
    bytes += data.length;
    sums.push(`${createHash('md5').update(data).digest('hex')}  ${relative(stage, f)}`);
  }
  const depends = [...(await shlibDepends(stage, spec.elves)), ...spec.depends];
  await fsp.mkdir(debian, { mode: 0o755 });
  await fsp.writeFile(join(debian, 'control'), controlFile(spec, depends, Math.ceil(bytes / 1024)));
  await fsp.writeFile(join(debian, 'md5sums'), `${sums.sort().join('\n')}\n`);
  if (spec.conffiles.length) await fsp.writeFile(join(debian, 'conffiles'), `${spec.conffiles.join('\n')}\n`);
  for (const [name, text] of Object.entries(spec.scripts)) await fsp.writeFile(join(debian, name), text, { mode: 0o755 });
  await fsp.mkdir(outDir, { recursive: true });
  const out = join(outDir, `${spec.name}_${spec.version}_${spec.arch}.deb`);
  await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', stage, out]);
  return out;
}

/** Lintian's findings; errors (E:) fail the build. */
export async function lintian(deb: string): Promise<{ errors: string[]; warnings: string[] }> {
  const out = await run('lintian', ['--no-tag-display-limit', deb]).catch((e: Error) => e.message);
  const lines = out.split('\n');
  return { errors: lines.filter((l) => l.startsWith('E:')), warnings: lines.filter((l) => l.startsWith('W:')) };
}
