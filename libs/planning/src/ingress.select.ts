import type { NetInterface } from '@ioplane/domain';
import { DEFAULT_INGRESS, IngressSelector } from './placement-request.schema';

/**
 * The physical ports traffic enters a machine on, by the request's ingress selector (default:
 * uplinks). An interface is taken when it matches every field given; a bond stands for its
 * members and a VLAN interface for its parent, since XDP runs where packets arrive.
 */
export function selectIngress(interfaces: readonly NetInterface[], selector: IngressSelector | undefined): string[] {
  const sel = selector ?? DEFAULT_INGRESS;
  const byName = new Map(interfaces.map((i) => [i.name, i]));
  const matches = (i: NetInterface): boolean => {
    if (!i.enabled) return false;
    if (sel.uplinks && !i.subnets?.length) return false;
    if (sel.interfaces && !sel.interfaces.includes(i.name)) return false;
    if (sel.fabrics && !(i.vlan && sel.fabrics.includes(i.vlan.fabric))) return false;
    if (sel.vlans && !(i.vlan && sel.vlans.includes(i.vlan.vid))) return false;
    if (sel.tags && !sel.tags.every((t) => i.tags?.includes(t))) return false;
    return true;
  };
  const out: string[] = [];
  const physical = (i: NetInterface, depth = 0): void => {
    const parents = (i.parents ?? []).map((n) => byName.get(n)).filter((p): p is NetInterface => !!p);
    if (parents.length === 0 || depth > 4) {
      if (i.enabled && !out.includes(i.name)) out.push(i.name);
      return;
    }
    for (const p of parents) physical(p, depth + 1);
  };
  for (const i of interfaces) if (matches(i)) physical(i);
  return out;
}
