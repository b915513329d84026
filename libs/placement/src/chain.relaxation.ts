import { costTotal, emptyUsage, usageOf } from './cost.model';
import { allowedOn, START, STAGES } from './machine.problem';
import type { FilterLayout } from './problem.filter';
import type { StaticFilter } from './static.filter';
import { KINDS, optionTable } from './option.table';
import { chainRatesInto, PortPath } from './port.paths';
import { PlacementDevice, PlacementMachine, PlacementModule, PROGRAM_SWAP_SECONDS, TrafficDemand } from './placement.model';

/**
 * solveProblem's shortcut, on numbers alone and made stronger. Most machines of a fleet are
 * settled by a relaxation whose own plan fits every constraint, and is then optimal; building the
 * problem to find that out (a candidate object, packed figures and resource lists per option,
 * rejections, sorting) cost far more than the relaxation itself, for every machine and again for
 * every replica priced.
 *
 * This works from the same static filter and layout the problem would be built from, figures each
 * option with the same arithmetic (usageOf, costTotal) and applies the same refusals. The
 * relaxation is the chain bound (each port's cheapest chain in hook order) plus two constraints
 * the plain one drops and this fleet's machines hit: a hook's program slots on a port (an nfp
 * port holds one offload program) and one firmware flavour per card (an Agilio's bpf, flower or
 * nic), each still a relaxation, so its minimum is a lower bound. Its argmin is taken as
 * chainRelaxedAssignment takes it from the cost-sorted candidates (ties as that stable sort
 * breaks them), so where the plain shortcut answers this gives the same plan. When the argmin
 * also fits the shared capacities (host-core budget, a card's packet budget, instructions, map
 * memory) it is optimal; otherwise this returns null and the caller builds the problem and
 * searches as before. The answer is an option index per row (StaticFilter order), evaluated
 * again on the built problem when a plan is written out (EquivalenceCache.rebuildClass).
 */
/**
 * 'infeasible' when no plan exists: a row without any option, no chain in hook order within the
 * slots and firmware, or a search that tried every plan. null when this cannot tell (the search
 * ran out of nodes, or there is nothing to place).
 */
export interface RelaxedPlan {
  /** Per row, the index of the chosen option in its StaticFilter row. */
  options: Int32Array;
  cost: number;
}

const EPS = 1e-9;
const usage = emptyUsage();
/** Each row's rate, as rowTraffic would give it, and one demand object to hand usageOf. */
let ratePps = new Float64Array(64);
let rateBytes = new Float64Array(64);
const demand: TrafficDemand = { pps: 0, meanPacketBytes: 0 };
/** Scratch, grown on demand: per option (rows' options laid end to end) its cost and use per kind. */
let cost = new Float64Array(256);
let unmoved = new Float64Array(256);
/** The current machine's option table's arrays (see optionTable). */
let slotCap: Float64Array = new Float64Array(0);
let start: Int32Array = new Int32Array(0);
let optDevice: Int32Array = new Int32Array(0);
let optStage: Int32Array = new Int32Array(0);
let optFlavour: Int32Array = new Int32Array(0);
/** Per device, the flavour the current table allows (-1: any). */
let want = new Int32Array(16);
let users = new Int32Array(16);
let rowOrder = new Int32Array(256);
/** Nodes the search may visit before it leaves the machine to the problem's own search. */
const NODE_BUDGET = 20_000;
/** Beyond this many firmware choices per machine the tables are not worth it: one table allows any. */
const MAX_COMBOS = 27;
const comboRoot = new Float64Array(MAX_COMBOS);
let amount = new Float64Array(256 * KINDS);
let bound = new Float64Array(1024);
let used = new Float64Array(64);
let flavourAt = new Int32Array(16);

function grow(options: number, resources: number, devices: number): void {
  if (cost.length < options) {
    cost = new Float64Array(options * 2);
    unmoved = new Float64Array(options * 2);
    amount = new Float64Array(options * 2 * KINDS);
    rowOrder = new Int32Array(options * 2);
  }
  if (used.length < resources) used = new Float64Array(resources * 2);
  if (flavourAt.length < devices) {
    flavourAt = new Int32Array(devices * 2);
    want = new Int32Array(devices * 2);
    users = new Int32Array(devices * 2);
  }
}

export function solveRelaxed(
  machine: PlacementMachine,
  chain: readonly PlacementModule[],
  devices: readonly PlacementDevice[],
  ports: readonly PortPath[],
  statics: StaticFilter,
  layout: FilterLayout,
  /** Per port, what enters it (see rowTraffic). */
  entering: readonly TrafficDemand[],
): RelaxedPlan | 'infeasible' | null {
  const rows = statics.length;
  const n = chain.length;
  if (rows === 0 || n === 0) return null;
  const resources = layout.resources;
  const hostDevice = devices.length - 1;
  const t = optionTable(devices, statics, layout);
  start = t.start;
  optDevice = t.device;
  optFlavour = t.flavour;
  optStage = t.stage;
  slotCap = t.slotCap;
  grow(t.live.length, resources.length, devices.length);
  if (ratePps.length < rows) {
    ratePps = new Float64Array(rows * 2);
    rateBytes = new Float64Array(rows * 2);
  }
  for (let pi = 0; pi < ports.length; pi++)
    chainRatesInto(machine, machine.ports[ports[pi].index], chain, entering[pi], ratePps, rateBytes, pi * n);
  const tc = t.cap;

  // Every option figured as trafficFilter figures it; refused ones cost Infinity.
  const placed = machine.currentPlacement;
  let off = 0;
  for (let r = 0; r < rows; r++) {
    const m = chain[r % n];
    const current = placed[m.name];
    demand.pps = ratePps[r];
    demand.meanPacketBytes = rateBytes[r];
    let any = false;
    for (const end = start[r + 1]; off < end; off++) {
      cost[off] = Infinity;
      if (t.live[off] === 0) continue;
      usageOf(m, demand, t.flavours[off], t.targets[off], usage, t.extraNs[off]);
      if (usage.throughput > 1 + 1e-9 || usage.arm > 1 + 1e-9) continue;
      const a = off * KINDS;
      amount[a] = slotCap[off] === Infinity ? 0 : 1;
      amount[a + 1] = usage.instructions;
      amount[a + 2] = usage.mapMemoryBytes;
      amount[a + 3] = usage.flowRules;
      amount[a + 4] = usage.throughput;
      amount[a + 5] = usage.arm;
      amount[a + 6] = usage.hostCores;
      let alone = true;
      for (let k = 0; k < KINDS && alone; k++) {
        const x = amount[a + k];
        if (x > 0 && x > tc[a + k] + 1e-9) alone = false;
      }
      if (!alone) continue;
      let migration = 0;
      if (current !== undefined) {
        // problemFrom's test (shownDeviceId): the host kernel's hook is named by the card owning the netdev.
        const pi = Math.floor(r / n);
        const di = optDevice[off];
        const card = ports[pi].card;
        const shown = di === hostDevice && card >= 0 ? devices[card].id : devices[di].id;
        const moved =
          current.deviceId !== shown ||
          current.target !== t.targets[off] ||
          (current.interface !== undefined && current.interface !== ports[pi].interface);
        migration = moved ? PROGRAM_SWAP_SECONDS : 0;
      }
      unmoved[off] = costTotal(
        usage.hostCores,
        usage.armCores,
        usage.throughput,
        t.latency[off],
        0,
        t.utilWeight[off],
        t.preferPenalty[off],
      );
      cost[off] =
        migration === 0
          ? unmoved[off]
          : costTotal(
              usage.hostCores,
              usage.armCores,
              usage.throughput,
              t.latency[off],
              migration,
              t.utilWeight[off],
              t.preferPenalty[off],
            );
      any = true;
    }
    if (!any) return 'infeasible';
  }

  // Each port's cheapest chain in hook order, as ChainBound builds it, with one constraint more
  // when some hook holds fewer program slots than the chain has modules (an nfp port's one
  // offload program): the state then also counts the modules already on the current hook, up
  // to the largest such limit. Slots are per port and a port's modules on one hook are
  // consecutive, so this stays a relaxation of the problem (a valid lower bound) and is exactly
  // ChainBound when no limit can bind.
  let limit = 0;
  for (let i = 0; i < off; i++) if (cost[i] !== Infinity && slotCap[i] < n && slotCap[i] > limit) limit = slotCap[i];
  const width = limit + 1;
  const states = STAGES * width + 1;
  const begin = STAGES * width;
  const allowed = allowedOn(machine);
  // The state after option i of row r is taken in state s; -1 when the option may not follow s.
  const step = (r: number, s: number, i: number, stage: number): number => {
    const prev = s === begin ? START : Math.floor(s / width);
    if (!allowed[prev * STAGES + stage]) return -1;
    if (r + 1 < rows && (r + 1) % n === 0) return prev === stage && (s % width) + 1 > slotCap[i] ? -1 : begin;
    if (limit === 0) return stage;
    let count = 1;
    if (prev === stage) {
      count = (s % width) + 1;
      if (count > slotCap[i]) return -1;
      if (count > limit) count = limit;
    }
    return stage * width + count;
  };
  // One table per firmware choice of the cards with several flavours (an Agilio's bpf, flower
  // and nic): a plan runs one flavour per card, so the cheapest over the choices, each charged
  // its switches, is a lower bound that mixing flavours in the relaxation would lose.
  const multi: number[] = [];
  let combos = 1;
  for (let d = 0; d < devices.length; d++) {
    want[d] = -1;
    if (devices[d].flavours.length > 1) {
      multi.push(d);
      combos *= devices[d].flavours.length;
    }
  }
  if (combos > MAX_COMBOS) {
    multi.length = 0;
    combos = 1;
  }
  const size = (rows + 1) * states;
  if (bound.length < combos * size) bound = new Float64Array(combos * size * 2);
  let root = Infinity;
  let bestCombo = 0;
  for (let combo = 0; combo < combos; combo++) {
    choose(multi, combo, devices);
    let switches = 0;
    for (const d of multi) switches += layout.switchCost[d][want[d]];
    const v = table(rows, n, limit, allowed, combo * size) + switches;
    comboRoot[combo] = v;
    if (v < root) {
      root = v;
      bestCombo = combo;
    }
  }
  if (!Number.isFinite(root)) return 'infeasible';
  // The best choice's table, kept with the others (each its own segment of `bound`).
  choose(multi, bestCombo, devices);
  let base = bestCombo * size;

  // The plan in row order: one flavour per device, every shared capacity, its cost summed as
  // evaluate() sums it (a switch when a device is first used, then the option). NaN when it breaks one.
  const costOfPlan = (options: Int32Array): number => {
    used.fill(0, 0, resources.length);
    flavourAt.fill(-1, 0, devices.length);
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      const i = start[r] + options[r];
      const d = optDevice[i];
      const f = flavourAt[d];
      if (f >= 0 && f !== optFlavour[i]) return NaN;
      if (f < 0) {
        flavourAt[d] = optFlavour[i];
        sum += layout.switchCost[d][optFlavour[i]];
      }
      const a = i * KINDS;
      for (let k = 0; k < KINDS; k++) {
        const x = amount[a + k];
        if (!(x > 0)) continue;
        const ri = t.res[a + k];
        used[ri] += x;
        if (used[ri] > tc[a + k] * (1 + 1e-9) + 1e-9) return NaN;
      }
      sum += cost[i];
    }
    return sum;
  };

  // Its argmin: the first achiever in cost order, as chainRelaxedAssignment reads the sorted candidates.
  const options = new Int32Array(rows);
  let state = begin;
  let argmin = true;
  for (let r = 0; r < rows && argmin; r++) {
    const opts = statics[r];
    const here = bound[base + r * states + state];
    let pick = -1;
    let pickTo = -1;
    for (let oi = 0; oi < opts.length; oi++) {
      const i = start[r] + oi;
      const c = cost[i];
      if (c === Infinity || (want[optDevice[i]] >= 0 && want[optDevice[i]] !== optFlavour[i])) continue;
      const to = step(r, state, i, optStage[i]);
      if (to < 0) continue;
      if (Math.abs(c + bound[base + (r + 1) * states + to] - here) > EPS * (1 + Math.abs(here))) continue;
      if (pick < 0 || sortsBefore(i, start[r] + pick)) {
        pick = oi;
        pickTo = to;
      }
    }
    if (pick < 0) argmin = false;
    options[r] = pick;
    state = pickTo;
  }
  if (argmin) {
    const sum = costOfPlan(options);
    if (sum <= root + 1e-12 * (1 + root)) return { options, cost: sum };
  }

  // The argmin breaks a shared capacity (a card's packet budget over two ports, the host-core
  // budget): branch and bound over the options, each firmware choice in the order of its bound,
  // pruned by these tables, which are far tighter than the plain chain bound the problem's own
  // search uses. Only a search that ends within its node budget answers (optimal then).
  const order = Array.from({ length: combos }, (_, c) => c).sort((x, y) => comboRoot[x] - comboRoot[y]);
  const best = new Int32Array(rows);
  const cur = new Int32Array(rows);
  let bestCost = Infinity;
  let nodes = 0;
  for (const combo of order) {
    if (!(comboRoot[combo] < cutoff(bestCost))) break;
    choose(multi, combo, devices);
    base = combo * size;
    used.fill(0, 0, resources.length);
    flavourAt.fill(-1, 0, devices.length);
    users.fill(0, 0, devices.length);
    const dfs = (r: number, s: number, spent: number): boolean => {
      if (r === rows) {
        const sum = costOfPlan(cur);
        if (sum < bestCost) {
          bestCost = sum;
          best.set(cur);
        }
        // costOfPlan reset the shared use; put this path's back.
        replay(r);
        return true;
      }
      if (++nodes > NODE_BUDGET) return false;
      const first = start[r];
      const last = start[r + 1];
      // Cheapest first, so a good plan is found early and prunes the rest.
      let count = 0;
      for (let i = first; i < last; i++) if (cost[i] !== Infinity) rowOrder[first + count++] = i;
      for (let x = 1; x < count; x++) {
        const v = rowOrder[first + x];
        let y = x - 1;
        while (y >= 0 && cost[rowOrder[first + y]] > cost[v]) {
          rowOrder[first + y + 1] = rowOrder[first + y];
          y--;
        }
        rowOrder[first + y + 1] = v;
      }
      for (let x = 0; x < count; x++) {
        const i = rowOrder[first + x];
        const d = optDevice[i];
        if (want[d] >= 0 && want[d] !== optFlavour[i]) continue;
        if (flavourAt[d] >= 0 && flavourAt[d] !== optFlavour[i]) continue;
        const to = step(r, s, i, optStage[i]);
        if (to < 0) continue;
        const extra = flavourAt[d] < 0 ? layout.switchCost[d][optFlavour[i]] : 0;
        const next = spent + extra + cost[i];
        if (!(next + bound[base + (r + 1) * states + to] < cutoff(bestCost))) continue;
        const a = i * KINDS;
        let fits = true;
        for (let k = 0; k < KINDS && fits; k++) {
          const v = amount[a + k];
          if (v > 0 && used[t.res[a + k]] + v > tc[a + k] * (1 + 1e-9) + 1e-9) fits = false;
        }
        if (!fits) continue;
        for (let k = 0; k < KINDS; k++) if (amount[a + k] > 0) used[t.res[a + k]] += amount[a + k];
        if (users[d]++ === 0) flavourAt[d] = optFlavour[i];
        cur[r] = i - first;
        const done = dfs(r + 1, to, next);
        if (--users[d] === 0) flavourAt[d] = -1;
        for (let k = 0; k < KINDS; k++) if (amount[a + k] > 0) used[t.res[a + k]] -= amount[a + k];
        if (!done) return false;
      }
      return true;
    };
    // After a leaf, the use and flavours of rows before r are rebuilt from `cur` (costOfPlan cleared them).
    const replay = (r: number) => {
      used.fill(0, 0, resources.length);
      flavourAt.fill(-1, 0, devices.length);
      users.fill(0, 0, devices.length);
      for (let q = 0; q < r; q++) {
        const i = start[q] + cur[q];
        const a = i * KINDS;
        for (let k = 0; k < KINDS; k++) if (amount[a + k] > 0) used[t.res[a + k]] += amount[a + k];
        if (users[optDevice[i]]++ === 0) flavourAt[optDevice[i]] = optFlavour[i];
      }
    };
    if (!dfs(0, begin, 0)) return null;
  }
  // Every plan was tried (none pruned by cost while none was found): there is none.
  if (!Number.isFinite(bestCost)) return 'infeasible';
  return { options: best, cost: bestCost };
}

/** What a bound must stay under to beat `best` by more than rounding (Infinity - Infinity is NaN). */
function cutoff(best: number): number {
  return best === Infinity ? Infinity : best - EPS * (1 + Math.abs(best));
}

/** Set `want` to the combo-th firmware choice of the cards in `multi` (mixed radix). */
function choose(multi: readonly number[], combo: number, devices: readonly PlacementDevice[]): void {
  for (const d of multi) {
    const k = devices[d].flavours.length;
    want[d] = combo % k;
    combo = Math.floor(combo / k);
  }
}

/**
 * Fill `bound` (rows x states) for the flavours `want` allows; returns the root (the first row's
 * start state). Option by option rather than state by state: an option's successor state is the
 * same for every count on another hook, so most states take one comparison per option.
 */
function table(rows: number, n: number, limit: number, allowed: readonly boolean[], base: number): number {
  const width = limit + 1;
  const states = STAGES * width + 1;
  const begin = states - 1;
  bound.fill(0, base + rows * states, base + (rows + 1) * states);
  for (let r = rows - 1; r >= 0; r--) {
    const here = base + r * states;
    const next = here + states;
    const last = r + 1 < rows && (r + 1) % n === 0;
    bound.fill(Infinity, here, next);
    for (let i = start[r]; i < start[r + 1]; i++) {
      const c = cost[i];
      if (c === Infinity || (want[optDevice[i]] >= 0 && want[optDevice[i]] !== optFlavour[i])) continue;
      const stage = optStage[i];
      const cap = slotCap[i];
      // Arriving on the hook from elsewhere: the first module there.
      const first = c + bound[next + (last ? begin : limit === 0 ? stage : stage * width + 1)];
      if (first < bound[here + begin]) bound[here + begin] = first;
      for (let prev = 0; prev < STAGES; prev++) {
        if (!allowed[prev * STAGES + stage]) continue;
        const row = here + prev * width;
        if (prev !== stage) {
          for (let k = 0; k < width; k++) if (first < bound[row + k]) bound[row + k] = first;
          continue;
        }
        for (let k = 0; k < width; k++) {
          let count = k + 1;
          if (limit > 0 && count > cap) continue;
          if (count > limit) count = limit;
          const v = c + bound[next + (last ? begin : limit === 0 ? stage : stage * width + count)];
          if (v < bound[row + k]) bound[row + k] = v;
        }
      }
    }
  }
  return bound[base + begin];
}

/**
 * The candidates' order: by cost, a stable sort of the options in StaticFilter order; a module
 * the machine runs now was sorted by its cost without migration first, then re-sorted stably.
 */
function sortsBefore(i: number, j: number): boolean {
  if (cost[i] !== cost[j]) return cost[i] < cost[j];
  if (unmoved[i] !== unmoved[j]) return unmoved[i] < unmoved[j];
  return i < j;
}
