/**
 * `make` run once per key: concurrent and later calls for the same key share its promise, and a
 * promise that fails is forgotten, so the next call tries again.
 */
export function oncePerKey<T>(make: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const made = new Map<string, Promise<T>>();
  return (key) => {
    let p = made.get(key);
    if (!p) {
      p = make(key);
      made.set(key, p);
      p.catch(() => made.delete(key));
    }
    return p;
  };
}
