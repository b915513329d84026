/**
 * A module's match-action form: what it does, as rules a flow-offload device (tc-flower in a NIC
 * or DPU eSwitch) can hold. First matching rule wins; no match passes. A module without this form
 * runs only where BPF runs.
 */
export interface MatchActionRule {
  match: {
    proto?: 'tcp' | 'udp' | 'icmp';
    /** IPv4 prefix, `a.b.c.d/len` (a bare address is /32). */
    srcIp?: string;
    dstIp?: string;
    srcPort?: number;
    dstPort?: number;
  };
  action: 'drop' | 'pass';
}

export interface MatchActionForm {
  rules: MatchActionRule[];
  /** Also applied to 802.1Q-tagged IPv4 (the program parses one VLAN tag). */
  vlan?: boolean;
}
