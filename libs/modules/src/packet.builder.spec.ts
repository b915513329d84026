import { buildPacket, internetChecksum, packetHex, PacketFieldError, VXLAN_PORT } from './packet.builder';

/** Ones'-complement sum over a header including its checksum field: 0 when the checksum is right. */
const verifies = (...chunks: Buffer[]) => internetChecksum(...chunks) === 0;

describe('buildPacket', () => {
  it('builds the exact bytes of a known UDP packet', () => {
    // Computed independently (Python struct + RFC 1071): default MACs, IPv4 id 0 DF ttl 64, UDP with checksum.
    const expected = '020000000002' + '020000000001' + '0800' + '4500001e000040004011b6cbc0000201c0000202' + '04d2162e000af86c' + '6869';
    const pkt = buildPacket({ ipSrc: '192.0.2.1', ipDst: '192.0.2.2', proto: 'udp', srcPort: 1234, dstPort: 5678, payloadHex: '6869' });
    expect(pkt.toString('hex')).toBe(expected);
  });

  it('writes a valid IPv4 header checksum and a valid TCP checksum', () => {
    const pkt = buildPacket({
      ethSrc: '0a:0b:0c:0d:0e:0f',
      ipSrc: '10.9.8.7',
      ipDst: '172.16.254.1',
      proto: 'tcp',
      srcPort: 65535,
      dstPort: 1,
      ttl: 3,
      payloadHex: 'deadbeefcafe',
    });
    const ip = pkt.subarray(14, 34);
    expect(pkt.subarray(6, 12).toString('hex')).toBe('0a0b0c0d0e0f');
    expect(ip[8]).toBe(3);
    expect(ip.readUInt16BE(10)).not.toBe(0);
    expect(verifies(ip)).toBe(true);
    const tcp = pkt.subarray(34);
    const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, 6]), Buffer.from([0, tcp.length])]);
    expect(verifies(pseudo, tcp)).toBe(true);
    expect(tcp.readUInt16BE(0)).toBe(65535);
    expect(tcp.readUInt16BE(2)).toBe(1);
  });

  it('breaks the IPv4 checksum check when a header byte changes (the check can fail)', () => {
    const pkt = buildPacket({ ipSrc: '192.0.2.1', ipDst: '192.0.2.2', proto: 'icmp' });
    const ip = Buffer.from(pkt.subarray(14, 34));
    expect(verifies(ip)).toBe(true);
    ip[8] ^= 1;
    expect(verifies(ip)).toBe(false);
  });

  it('inserts an 802.1Q tag between the MACs and the IPv4 ethertype', () => {
    const pkt = buildPacket({ vlan: 100, ipSrc: '192.0.2.1', ipDst: '192.0.2.2', proto: 'icmp' });
    expect(pkt.subarray(12, 18).toString('hex')).toBe('8100' + '0064' + '0800');
    expect(pkt[18]).toBe(0x45);
    expect(pkt.length).toBe(18 + 20 + 8);
  });

  it('wraps the frame in outer Ethernet/IPv4/UDP 4789/VXLAN with the VNI', () => {
    const inner = { ipSrc: '10.1.0.5', ipDst: '10.1.0.6', proto: 'udp' as const, srcPort: 1, dstPort: 2 };
    const pkt = buildPacket({ ...inner, vxlan: { vni: 0x123456, outerIpSrc: '172.16.0.1', outerIpDst: '172.16.0.2' } });
    const outerIp = pkt.subarray(14, 34);
    expect(verifies(outerIp)).toBe(true);
    expect(outerIp[9]).toBe(17);
    expect(outerIp.subarray(12, 20).toString('hex')).toBe('ac100001ac100002');
    expect(outerIp.readUInt16BE(2)).toBe(pkt.length - 14);
    expect(pkt.readUInt16BE(36)).toBe(VXLAN_PORT);
    expect(pkt.readUInt16BE(38)).toBe(pkt.length - 34);
    expect(pkt.subarray(42, 50).toString('hex')).toBe('08000000' + '12345600');
    // The inner frame is the same packet built bare, only with the inner default MACs.
    const bare = buildPacket({ ...inner, ethSrc: '02:00:00:00:01:01', ethDst: '02:00:00:00:01:02' });
    expect(pkt.subarray(50).equals(bare)).toBe(true);
  });

  it('accepts a raw protocol number and appends the payload as the L4 bytes', () => {
    const pkt = buildPacket({ ipSrc: '192.0.2.1', ipDst: '192.0.2.2', proto: 47, payloadHex: '0000' });
    expect(pkt[23]).toBe(47);
    expect(pkt.subarray(34).toString('hex')).toBe('0000');
  });

  it('names the field at fault', () => {
    expect(() => buildPacket({ ipSrc: '300.0.0.1', ipDst: '192.0.2.2', proto: 'udp' })).toThrow(PacketFieldError);
    try {
      buildPacket({ ipSrc: '192.0.2.1', ipDst: '192.0.2.2', proto: 'udp', dstPort: 70000 });
      throw new Error('expected a PacketFieldError');
    } catch (e) {
      expect(e).toBeInstanceOf(PacketFieldError);
      expect((e as PacketFieldError).field).toBe('dstPort');
    }
  });
});

describe('packetHex', () => {
  it('returns hex input as given (lowercased) and builds fields input', () => {
    expect(packetHex({ name: 'h', input: { hex: 'FFEE' }, expect: { verdict: 'XDP_PASS' } })).toBe('ffee');
    const fields = { ipSrc: '192.0.2.1', ipDst: '192.0.2.2', proto: 'udp' as const, srcPort: 1234, dstPort: 5678, payloadHex: '6869' };
    expect(packetHex({ name: 'f', input: { fields }, expect: { verdict: 'XDP_PASS' } })).toBe(buildPacket(fields).toString('hex'));
  });
});
