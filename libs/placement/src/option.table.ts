import { HOOK_POSITION, Target } from '@ioplane/domain';
import type { FilterLayout } from './problem.filter';
import type { StaticFilter } from './static.filter';
import { DeviceFlavour, PlacementDevice } from './placement.model';

/** Resource kinds per option, in trafficFilter's KINDS order (slots first). */
export const KINDS = 7;
/** Hook positions as a local binding (an imported one is read through a getter on every use). */
const POSITION = HOOK_POSITION;

/**
 * What the relaxation (chain.relaxation.ts) reads of a shape's options, laid out flat once per layout and shared by every machine
 * of the shape (a layout always comes from one static filter). Flavours are the first machine's:
 * same profile ids, same numbers.
 */
export interface OptionTable {
  start: Int32Array;
  live: Uint8Array;
  device: Int32Array;
  flavour: Int32Array;
  stage: Int32Array;
  flavours: DeviceFlavour[];
  targets: Target[];
  latency: Float64Array;
  extraNs: Float64Array;
  utilWeight: Float64Array;
  preferPenalty: Float64Array;
  /** Per option and kind, the resource row and its capacity. */
  res: Int32Array;
  cap: Float64Array;
  /** The option's hook slots when they are counted (a finite row), else Infinity. */
  slotCap: Float64Array;
}

const optionTables = new WeakMap<FilterLayout, OptionTable>();

export function optionTable(devices: readonly PlacementDevice[], statics: StaticFilter, layout: FilterLayout): OptionTable {
  let t = optionTables.get(layout);
  if (t) return t;
  let count = 0;
  for (const row of statics) count += row.length;
  t = {
    start: new Int32Array(statics.length + 1),
    live: new Uint8Array(count),
    device: new Int32Array(count),
    flavour: new Int32Array(count),
    stage: new Int32Array(count),
    flavours: new Array<DeviceFlavour>(count),
    targets: new Array<Target>(count),
    latency: new Float64Array(count),
    extraNs: new Float64Array(count),
    utilWeight: new Float64Array(count),
    preferPenalty: new Float64Array(count),
    res: new Int32Array(count * KINDS).fill(-1),
    cap: new Float64Array(count * KINDS),
    slotCap: new Float64Array(count).fill(Infinity),
  };
  let i = 0;
  for (let r = 0; r < statics.length; r++) {
    t.start[r] = i;
    for (let oi = 0; oi < statics[r].length; oi++, i++) {
      const o = statics[r][oi];
      t.device[i] = o.deviceIndex;
      t.flavour[i] = o.flavourIndex;
      t.stage[i] = POSITION[o.hook];
      t.flavours[i] = devices[o.deviceIndex].flavours[o.flavourIndex];
      t.targets[i] = o.target;
      if (o.rejection) continue;
      t.live[i] = 1;
      t.latency[i] = o.latency;
      t.extraNs[i] = o.extraNs;
      t.utilWeight[i] = o.utilWeight;
      t.preferPenalty[i] = o.preferPenalty;
      const at = layout.rows[r][oi];
      for (let k = 0; k < KINDS; k++) {
        t.res[i * KINDS + k] = at[k];
        t.cap[i * KINDS + k] = layout.resources[at[k]].capacity;
      }
      // trafficFilter counts a slot (flow hooks too) only on a finite slots row.
      if (Number.isFinite(t.cap[i * KINDS])) t.slotCap[i] = t.cap[i * KINDS];
    }
  }
  t.start[statics.length] = i;
  optionTables.set(layout, t);
  return t;
}
