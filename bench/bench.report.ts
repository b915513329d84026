/** A bench's figures, in order: key, value. */
export type Figures = [string, string | number][];

/**
 * Ends a bench run: the first 20 broken things on stderr, then `<name>.broken` and every figure
 * as key=value on stdout, after the meaning of each key that has one. Something broken fails the
 * run; slowness never does.
 */
export function reportFigures(name: string, kv: Figures, broken: string[], meaning: Record<string, string>): void {
  for (const b of broken.slice(0, 20)) console.error(`broken: ${b}`);
  kv.push([`${name}.broken`, broken.length]);
  for (const [k] of kv) if (meaning[k]) console.log(`measures ${k}: ${meaning[k]}`);
  for (const [k, v] of kv) console.log(`${k}=${v}`);
  if (broken.length) process.exitCode = 1;
}
