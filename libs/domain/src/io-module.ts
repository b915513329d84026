import { XdpAction } from './target';

export type PlacementPreference = 'auto' | 'host' | 'nic' | 'dpu';

export interface PacketFields {
  ethSrc?: string;
  ethDst?: string;
  vlan?: number;
  ipSrc: string;
  ipDst: string;
  proto: 'tcp' | 'udp' | 'icmp' | number;
  srcPort?: number;
  dstPort?: number;
  ttl?: number;
  payloadHex?: string;
  /** Wrap in VXLAN (outer UDP 4789) with this VNI, outer addresses from outer*. */
  vxlan?: { vni: number; outerIpSrc: string; outerIpDst: string };
}

export interface TestVector {
  name: string;
  input: { hex: string } | { fields: PacketFields };
  expect: { verdict: XdpAction; outputHex?: string };
  /** Run this vector after N prior runs in the same map state (rate limiter, counters). */
  repeat?: number;
}

export interface TrafficProfile {
  pps: number;
  meanPacketBytes: number;
  /**
   * Expected share of the packets it sees that the module passes on (XDP_PASS/TX/REDIRECT), 0..1:
   * the next module of a chain sees this fraction. Absent: 1 (passes everything).
   */
  passRatio?: number;
}

export interface IoModule {
  name: string;
  version: string;
  description: string;
  sources: string[];
  /** ELF section (e.g. `xdp`) or program function name. */
  program: string;
  traffic: TrafficProfile;
  latencyBudgetUs: number;
  hints: { prefer: PlacementPreference; persistentMaps: string[] };
  vectors: TestVector[];
  /** Folder the manifest was read from. */
  dir?: string;
}
