import type { MapFacts, ObjectFacts, ProgramFacts } from '../analysis/analysis.types';

/** Map definitions the program references, in reference order; unknown names resolve to undefined. */
export function programMaps(facts: ObjectFacts, program: ProgramFacts): Array<{ name: string; def?: MapFacts }> {
  return program.maps.map((m) => ({ name: m.name, def: facts.maps.find((d) => d.name === m.name) }));
}
