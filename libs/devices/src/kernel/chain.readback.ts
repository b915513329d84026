import type { ChainState, LoadedModule } from '../device.driver';
import { bpftool } from './bpftool.run';

const num = (v: unknown): number | null => {
  if (typeof v === 'number') return v;
  // Raw dumps give little-endian bytes as hex strings.
  if (Array.isArray(v)) return v.reduce<number>((n, b, i) => n + parseInt(String(b), 16) * 2 ** (8 * i), 0);
  return null;
};

/** The program id in each slot of a pinned PROG_ARRAY (null: empty slot); null when it cannot be read. */
export function progArrayIds(pin: string): Promise<(number | null)[] | null> {
  return progArraySlots(['pinned', pin]);
}

/** The same for a PROG_ARRAY named as bpftool takes it (`pinned <path>`, `id <n>`). */
export async function progArraySlots(map: string[]): Promise<(number | null)[] | null> {
  const r = await bpftool(['map', 'dump', ...map, '-j']).catch(() => null);
  if (!r || r.code !== 0) return null;
  const out: (number | null)[] = [];
  for (const e of JSON.parse(r.stdout || '[]') as { key: unknown; value: unknown; formatted?: { key: unknown; value: unknown } }[]) {
    const key = num(e.formatted?.key ?? e.key);
    const value = num(e.formatted?.value ?? e.value);
    if (key === null || value === null) continue;
    while (out.length < key) out.push(null);
    out[key] = value;
  }
  return out;
}

/**
 * A tail-call chain as the kernel runs it: its modules in the order its program array holds them
 * (slot 0 first), not the order the agent wrote down. A program no module of the chain loaded is
 * named by its id, so a check of what runs sees it. Other mechanisms are what was recorded.
 */
export async function chainAsRun(state: ChainState, progsPin: string): Promise<ChainState> {
  if (state.mechanism !== 'tail-call' || state.modules.length < 2) return state;
  const ids = await progArrayIds(progsPin);
  if (!ids) return state;
  const live: LoadedModule[] = ids.flatMap((id) =>
    id === null
      ? []
      : [
          state.modules.find((m) => m.progId === id) ?? {
            name: `prog#${id}`,
            version: '',
            digest: `prog#${id}`,
            program: '',
            persistentMaps: [],
            progId: id,
            tag: null,
          },
        ],
  );
  const same = live.length === state.modules.length && live.every((m, i) => m === state.modules[i]);
  return same ? state : { ...state, modules: live };
}
