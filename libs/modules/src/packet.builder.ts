import type { PacketFields, TestVector } from '@ioplane/domain';

/** Locally administered MACs, so built frames never collide with a real vendor's. */
export const DEFAULT_ETH_SRC = '02:00:00:00:00:01';
export const DEFAULT_ETH_DST = '02:00:00:00:00:02';
/** MACs of the inner frame of a VXLAN packet when `ethSrc`/`ethDst` are not given. */
export const DEFAULT_INNER_ETH_SRC = '02:00:00:00:01:01';
export const DEFAULT_INNER_ETH_DST = '02:00:00:00:01:02';
export const DEFAULT_TTL = 64;
export const VXLAN_PORT = 4789;
/** Outer UDP source port of VXLAN frames; fixed so built packets are reproducible. */
export const VXLAN_SRC_PORT = 49152;

const ETH_P_IP = 0x0800;
const ETH_P_8021Q = 0x8100;
const PROTO_NUMBERS = { icmp: 1, tcp: 6, udp: 17 } as const;

/** Bad input to the packet builder, naming the PacketFields field at fault. */
export class PacketFieldError extends Error {
  override readonly name = 'PacketFieldError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

export function parseMac(mac: string, field = 'ethSrc'): Buffer {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac))
    throw new PacketFieldError(field, `must be a MAC like 02:00:00:00:00:01, got "${mac}"`);
  return Buffer.from(mac.split(':').join(''), 'hex');
}

export function parseIpv4(ip: string, field = 'ipSrc'): Buffer {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw new PacketFieldError(field, `must be a dotted IPv4 address, got "${ip}"`);
  }
  return Buffer.from(parts.map(Number));
}

/** RFC 1071 Internet checksum over `chunks` concatenated (odd length padded with a zero byte). */
export function internetChecksum(...chunks: Buffer[]): number {
  const buf = Buffer.concat(chunks);
  let sum = 0;
  for (let i = 0; i < buf.length; i += 2) sum += (buf[i] << 8) | (i + 1 < buf.length ? buf[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function protoNumber(proto: PacketFields['proto']): number {
  const n = typeof proto === 'number' ? proto : PROTO_NUMBERS[proto];
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 255)
    throw new PacketFieldError('proto', `must be tcp, udp, icmp or 0..255, got ${String(proto)}`);
  return n;
}

function port(value: number | undefined, field: string): number {
  const p = value ?? 0;
  if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new PacketFieldError(field, `must be an integer 0..65535, got ${p}`);
  return p;
}

function ethernet(dst: Buffer, src: Buffer, etherType: number, vlan: number | undefined): Buffer {
  if (vlan === undefined) {
    const h = Buffer.alloc(14);
    dst.copy(h, 0);
    src.copy(h, 6);
    h.writeUInt16BE(etherType, 12);
    return h;
  }
  if (!Number.isInteger(vlan) || vlan < 0 || vlan > 4095) throw new PacketFieldError('vlan', `must be a VLAN id 0..4095, got ${vlan}`);
  const h = Buffer.alloc(18);
  dst.copy(h, 0);
  src.copy(h, 6);
  h.writeUInt16BE(ETH_P_8021Q, 12);
  h.writeUInt16BE(vlan, 14); // PCP 0, DEI 0
  h.writeUInt16BE(etherType, 16);
  return h;
}

/** IPv4 header without options: id 0, DF set, header checksum filled in. */
function ipv4(src: Buffer, dst: Buffer, proto: number, ttl: number, payloadLength: number): Buffer {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) throw new PacketFieldError('ttl', `must be an integer 0..255, got ${ttl}`);
  const total = 20 + payloadLength;
  if (total > 0xffff) throw new PacketFieldError('payloadHex', `makes the IPv4 packet ${total} bytes, over 65535`);
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(total, 2);
  h.writeUInt16BE(0x4000, 6);
  h[8] = ttl;
  h[9] = proto;
  src.copy(h, 12);
  dst.copy(h, 16);
  h.writeUInt16BE(internetChecksum(h), 10);
  return h;
}

function pseudoHeader(src: Buffer, dst: Buffer, proto: number, length: number): Buffer {
  const p = Buffer.alloc(12);
  src.copy(p, 0);
  dst.copy(p, 4);
  p[9] = proto;
  p.writeUInt16BE(length, 10);
  return p;
}

/** The L4 header + payload with its checksum, or just the payload for other protocols. */
function transport(proto: number, fields: PacketFields, src: Buffer, dst: Buffer, payload: Buffer): Buffer {
  if (proto === PROTO_NUMBERS.udp) {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(port(fields.srcPort, 'srcPort'), 0);
    h.writeUInt16BE(port(fields.dstPort, 'dstPort'), 2);
    h.writeUInt16BE(8 + payload.length, 4);
    const sum = internetChecksum(pseudoHeader(src, dst, proto, 8 + payload.length), h, payload);
    h.writeUInt16BE(sum === 0 ? 0xffff : sum, 6); // 0 means "no checksum" in UDP over IPv4
    return Buffer.concat([h, payload]);
  }
  if (proto === PROTO_NUMBERS.tcp) {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(port(fields.srcPort, 'srcPort'), 0);
    h.writeUInt16BE(port(fields.dstPort, 'dstPort'), 2);
    h[12] = 5 << 4; // data offset: 5 words, no options
    h[13] = 0x02; // SYN: a connection opener is what filters and balancers see first
    h.writeUInt16BE(0xffff, 14);
    h.writeUInt16BE(internetChecksum(pseudoHeader(src, dst, proto, 20 + payload.length), h, payload), 16);
    return Buffer.concat([h, payload]);
  }
  if (proto === PROTO_NUMBERS.icmp) {
    const h = Buffer.alloc(8);
    h[0] = 8; // echo request, id 0, sequence 0
    h.writeUInt16BE(internetChecksum(h, payload), 2);
    return Buffer.concat([h, payload]);
  }
  return payload;
}

function payloadOf(hex: string | undefined): Buffer {
  if (hex === undefined) return Buffer.alloc(0);
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new PacketFieldError('payloadHex', 'must be an even number of hex digits');
  return Buffer.from(hex, 'hex');
}

/**
 * Builds an Ethernet frame (no FCS) from PacketFields: IPv4 without options
 * (id 0, DF), TCP SYN / UDP / ICMP echo request with correct checksums.
 * With `vxlan`, the frame built from the other fields becomes the inner frame
 * (MACs default to DEFAULT_INNER_*), wrapped in outer Ethernet (default MACs,
 * `vlan` if given) / IPv4 / UDP 49152 -> 4789 (checksum 0, as RFC 7348 allows)
 * / VXLAN with the I flag and `vni`.
 */
export function buildPacket(fields: PacketFields): Buffer {
  const proto = protoNumber(fields.proto);
  const src = parseIpv4(fields.ipSrc, 'ipSrc');
  const dst = parseIpv4(fields.ipDst, 'ipDst');
  const ttl = fields.ttl ?? DEFAULT_TTL;
  const l4 = transport(proto, fields, src, dst, payloadOf(fields.payloadHex));
  const l3 = Buffer.concat([ipv4(src, dst, proto, ttl, l4.length), l4]);

  if (!fields.vxlan) {
    const eth = ethernet(
      parseMac(fields.ethDst ?? DEFAULT_ETH_DST, 'ethDst'),
      parseMac(fields.ethSrc ?? DEFAULT_ETH_SRC, 'ethSrc'),
      ETH_P_IP,
      fields.vlan,
    );
    return Buffer.concat([eth, l3]);
  }

  const { vni, outerIpSrc, outerIpDst } = fields.vxlan;
  if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff)
    throw new PacketFieldError('vxlan.vni', `must be an integer 0..16777215, got ${vni}`);
  const inner = Buffer.concat([
    ethernet(
      parseMac(fields.ethDst ?? DEFAULT_INNER_ETH_DST, 'ethDst'),
      parseMac(fields.ethSrc ?? DEFAULT_INNER_ETH_SRC, 'ethSrc'),
      ETH_P_IP,
      undefined,
    ),
    l3,
  ]);
  const vx = Buffer.alloc(8);
  vx[0] = 0x08;
  vx.writeUIntBE(vni, 4, 3);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(VXLAN_SRC_PORT, 0);
  udp.writeUInt16BE(VXLAN_PORT, 2);
  udp.writeUInt16BE(8 + vx.length + inner.length, 4);
  const oSrc = parseIpv4(outerIpSrc, 'vxlan.outerIpSrc');
  const oDst = parseIpv4(outerIpDst, 'vxlan.outerIpDst');
  const outerIp = ipv4(oSrc, oDst, PROTO_NUMBERS.udp, DEFAULT_TTL, udp.length + vx.length + inner.length);
  const outerEth = ethernet(parseMac(DEFAULT_ETH_DST, 'ethDst'), parseMac(DEFAULT_ETH_SRC, 'ethSrc'), ETH_P_IP, fields.vlan);
  return Buffer.concat([outerEth, outerIp, udp, vx, inner]);
}

/** The input frame of a test vector as lowercase hex, built from fields when it has no hex. */
export function packetHex(v: TestVector): string {
  return 'hex' in v.input ? v.input.hex.toLowerCase() : buildPacket(v.input.fields).toString('hex');
}
