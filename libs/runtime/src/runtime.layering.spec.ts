import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = join(__dirname, '../../..');
/**
 * Every other lib and app may build on runtime (config, logger, Redis endpoints, keys), so runtime
 * builds only on these: the domain types and the agent contract (whose key format the signing
 * keys follow). The Nest composition that wires the libs together is @ioplane/composition.
 */
const BELOW = ['domain', 'agent-api'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    // This spec's own sample imports are not imports.
    return name.endsWith('.ts') && path !== __filename ? [path] : [];
  });
}

/** Every module a text names in an import, export ... from, import() or require(). */
function specifiers(text: string): string[] {
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|^import\s+)'([^']+)'/gm)].map((m) => m[1]);
}

/** The libs a lib's sources reach, by alias or by a relative path out of its folder. */
function libsImportedBy(lib: string): Array<{ file: string; lib: string }> {
  const src = join(ROOT, 'libs', lib, 'src');
  return sources(src).flatMap((file) =>
    specifiers(readFileSync(file, 'utf8')).flatMap((s) => {
      const alias = /^@ioplane\/([^/]+)/.exec(s);
      if (alias) return alias[1] === lib ? [] : [{ file: relative(ROOT, file), lib: alias[1] }];
      if (!s.startsWith('.')) return [];
      const target = relative(join(ROOT, 'libs'), resolve(file, '..', s));
      const other = target.split('/')[0];
      return other === lib ? [] : [{ file: relative(ROOT, file), lib: other }];
    }),
  );
}

describe('runtime layering', () => {
  it('libs/runtime imports no lib above it (specs included): only ' + BELOW.join(', '), () => {
    expect(libsImportedBy('runtime').filter((i) => !BELOW.includes(i.lib))).toEqual([]);
  });

  it('the libs runtime builds on import nothing outside that base, so runtime stays below everything else', () => {
    expect(BELOW.flatMap((l) => libsImportedBy(l)).filter((i) => !BELOW.includes(i.lib))).toEqual([]);
  });

  it('sees an import of a lib above (the check reads the import forms the code uses)', () => {
    const sample = `import { x } from '@ioplane/queue';\nexport * from '@ioplane/state';\nconst c = require('@ioplane/catalog');\nimport type {\n  Y,\n} from '../../metrics/src';`;
    expect(specifiers(sample)).toEqual(['@ioplane/queue', '@ioplane/state', '@ioplane/catalog', '../../metrics/src']);
  });
});
