import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { ForeignProgram } from '../device.driver';
import { linkedProgId } from './bpftool.run';
import { bpffsRoot } from './kernel-xdp.options';
import { linksIn } from './netns.setup';

/**
 * XDP programs on a device's interfaces that ioplane did not load: reported, never removed.
 * `own` are the programs this device's links run; `names` its interfaces in `netns`.
 */
export async function foreignPrograms(o: {
  agentId: string;
  hostMode: boolean;
  netns: string | null;
  own: number[];
  names: ReadonlySet<string>;
}): Promise<ForeignProgram[]> {
  const foreign: ForeignProgram[] = [];
  const ours = new Set<number>(o.own);
  if (o.hostMode) {
    // Host mode: the agent's other devices may share these netdevs (a card's hardware stage and
    // its host XDP); what any of them attached through a link under this agent's bpffs folder is ours.
    const agentRoot = bpffsRoot(o.agentId);
    for (const dev of await fsp.readdir(agentRoot).catch(() => [] as string[])) {
      for (const port of await fsp.readdir(join(agentRoot, dev)).catch(() => [] as string[])) {
        if (!/^p\d+$/.test(port)) continue;
        const id = await linkedProgId(join(agentRoot, dev, port, 'link'));
        if (id !== null) ours.add(id);
      }
    }
  }
  for (const l of await linksIn(o.netns)) {
    // In host mode only the device's own ports are judged: the host's other netdevs belong to other devices.
    if (o.hostMode && !o.names.has(l.ifname)) continue;
    // Another device of this machine shares the namespace; its interfaces are not ours to judge.
    if (!o.names.has(l.ifname) && /^x[0-9a-f]{6}p\d+$/.test(l.ifname)) continue;
    for (const prog of l.progs)
      if (!ours.has(prog.id)) foreign.push({ interface: l.ifname, progId: prog.id, name: prog.name, tag: prog.tag, mode: prog.mode });
  }
  return foreign;
}
