/**
 * `build` run once per folder: concurrent and later calls for the same folder share its promise,
 * and a build that fails is forgotten, so the next call tries again.
 */
export function oncePerDir(build: (dir: string) => Promise<string>): (dir: string) => Promise<string> {
  const built = new Map<string, Promise<string>>();
  return (dir) => {
    let p = built.get(dir);
    if (!p) {
      p = build(dir);
      built.set(dir, p);
      p.catch(() => built.delete(dir));
    }
    return p;
  };
}
