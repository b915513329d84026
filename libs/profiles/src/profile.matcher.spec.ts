import { FirmwareProfile, Machine, NetInterface, PciDevice } from '@ioplane/domain';
import { loadProfiles } from './profile.loader';
import { detectDevices, matchProfile } from './profile.matcher';

const profiles = loadProfiles();

function iface(name: string, firmwareVersion: string | null, linkSpeedMbps = 25000): NetInterface {
  return {
    id: 0,
    name,
    type: 'physical',
    macAddress: '00:00:00:00:00:00',
    vendor: null,
    product: null,
    firmwareVersion,
    linkSpeedMbps,
    numaNode: 0,
    enabled: true,
  };
}

function pci(pciAddress: string, vendorId: string, productId: string, driver: string | null, interfaceName: string | null): PciDevice {
  return {
    vendorId,
    productId,
    vendorName: `vendor ${vendorId}`,
    productName: `product ${productId}`,
    driver,
    pciAddress,
    numaNode: 0,
    interfaceName,
  };
}

function machine(systemId: string, hostname: string, over: Partial<Machine> = {}): Machine {
  return {
    systemId,
    hostname,
    fqdn: `${hostname}.maas`,
    zone: 'zone-1',
    pool: 'default',
    tags: [],
    status: 6,
    statusName: 'Deployed',
    architecture: 'amd64/generic',
    cpuCount: 32,
    memoryMiB: 131072,
    powerState: 'on',
    ipAddresses: ['127.77.1.1'],
    parentSystemId: null,
    isDpu: false,
    hardware: { systemVendor: 'Dell Inc.', systemProduct: 'PowerEdge R750', systemFamily: 'PowerEdge', cpuModel: 'Intel Xeon Gold 6338' },
    interfaces: [],
    pciDevices: [],
    workloadAnnotations: {},
    ...over,
  };
}

function dpu(systemId: string, hostname: string, parent: string | null): Machine {
  return machine(systemId, hostname, { architecture: 'arm64/generic', isDpu: true, parentSystemId: parent });
}

describe('matchProfile', () => {
  const agilio = (firmwareVersion: string | null) => matchProfile(profiles, { vendorId: '19ee', productId: '4000', firmwareVersion });

  it('picks the Netronome flavour from the firmware version prefix', () => {
    expect(agilio('bpf-2.1.16.1')?.id).toBe('netronome-agilio-cx-bpf-2.1');
    expect(agilio('flower-2.1.16.1')?.id).toBe('netronome-agilio-cx-flower-2.1');
    expect(agilio('nic-2.1.16.1')?.id).toBe('netronome-agilio-cx-nic-2.1');
  });

  it('matches nothing for an unknown firmware or a missing version when every profile names prefixes', () => {
    expect(agilio('bpf-3.0.1')).toBeNull();
    expect(agilio('bpf-2.10.1')).toBeNull();
    expect(agilio(null)).toBeNull();
  });

  it('compares hex ids case-insensitively', () => {
    expect(matchProfile(profiles, { vendorId: '15B3', productId: 'A2DC', firmwareVersion: '32.39.1002' })?.id).toBe(
      'nvidia-bluefield-3-32.39',
    );
    expect(matchProfile(profiles, { vendorId: '8086', productId: '1592', firmwareVersion: '4.20 0x8001778b 1.3346.0' })?.id).toBe(
      'intel-e810-4.20',
    );
  });

  it('prefers the longest matching prefix, with an empty list matching any version', () => {
    const base = profiles.find((p) => p.id === 'netronome-agilio-cx-bpf-2.1')!;
    const anyFw: FirmwareProfile = { ...base, id: 'agilio-any', firmwareVersions: [] };
    const broad: FirmwareProfile = { ...base, id: 'agilio-bpf', firmwareVersions: ['bpf-'] };
    const set = [anyFw, broad, base];
    expect(matchProfile(set, { vendorId: '19ee', productId: '4000', firmwareVersion: 'bpf-2.1.16.1' })?.id).toBe(base.id);
    expect(matchProfile(set, { vendorId: '19ee', productId: '4000', firmwareVersion: 'bpf-9.9' })?.id).toBe('agilio-bpf');
    expect(matchProfile(set, { vendorId: '19ee', productId: '4000', firmwareVersion: null })?.id).toBe('agilio-any');
  });

  it('returns null for an unprofiled Broadcom BCM57414', () => {
    expect(matchProfile(profiles, { vendorId: '14e4', productId: '16d7', firmwareVersion: '226.0.145.0' })).toBeNull();
  });
});

describe('detectDevices', () => {
  it('lists the CPU, groups card ports, keeps unknown NICs unprofiled and ignores non-network PCI', () => {
    const host = machine('abc123', 'node-01', {
      interfaces: [
        iface('ens1f0np0', '226.0.145.0'),
        iface('ens1f1np1', '226.0.145.0'),
        iface('ens2f0', 'bpf-2.1.16.1'),
        iface('ens2f1', 'bpf-2.1.16.1'),
      ],
      pciDevices: [
        pci('0000:5e:00.1', '19ee', '4000', 'nfp', 'ens2f1'),
        pci('0000:5e:00.0', '19ee', '4000', 'nfp', 'ens2f0'),
        pci('0000:3b:00.0', '14e4', '16d7', 'bnxt_en', 'ens1f0np0'),
        pci('0000:3b:00.1', '14e4', '16d7', 'bnxt_en', 'ens1f1np1'),
        pci('0000:65:00.0', '144d', 'a80a', 'nvme', null),
        pci('0000:ca:00.0', '10de', '20b5', 'nvidia', null),
      ],
    });
    const devices = detectDevices(host, [], profiles);
    // Cards only: host XDP runs on their netdevs, so there is no "cpu" device.
    expect(devices.map((d) => d.id)).toEqual(['abc123/ens1f0np0', 'abc123/ens2f0']);

    const broadcom = devices[0];
    expect(broadcom).toMatchObject({
      kind: 'nic',
      profileId: null,
      vendorId: '14e4',
      productId: '16d7',
      driver: 'bnxt_en',
      pciAddress: '0000:3b:00.0',
      firmwareVersion: '226.0.145.0',
      interfaces: ['ens1f0np0', 'ens1f1np1'],
      linkSpeedMbps: 50000,
      dpuSystemId: null,
    });
    expect(devices[1]).toMatchObject({ kind: 'smartnic', profileId: 'netronome-agilio-cx-bpf-2.1', interfaces: ['ens2f0', 'ens2f1'] });
  });

  it('treats a function bound to a NIC driver as network even without an interface, named by PCI address', () => {
    const host = machine('h1', 'node-01', { pciDevices: [pci('0000:af:00.0', '8086', '1572', 'i40e', null)] });
    const devices = detectDevices(host, [], profiles);
    expect(devices[0]).toMatchObject({
      id: 'h1/0000:af:00.0',
      name: '0000:af:00.0',
      interfaces: [],
      firmwareVersion: null,
      profileId: null,
      kind: 'nic',
    });
  });

  it('links a BlueField card to the DPU machine whose parent is this host', () => {
    const host = machine('host1', 'node-01', {
      interfaces: [iface('ens3f0np0', '24.35.2000', 100000), iface('ens3f1np1', '24.35.2000', 100000)],
      pciDevices: [
        pci('0000:17:00.0', '15b3', 'a2d6', 'mlx5_core', 'ens3f0np0'),
        pci('0000:17:00.1', '15b3', 'a2d6', 'mlx5_core', 'ens3f1np1'),
      ],
    });
    const dpus = [dpu('other-dpu', 'aaa-dpu', 'host2'), dpu('dpu1', 'node-01-bf', 'host1')];
    const [bf] = detectDevices(host, dpus, profiles);
    expect(bf).toMatchObject({
      kind: 'dpu',
      profileId: 'nvidia-bluefield-2-24.35',
      dpuSystemId: 'dpu1',
      interfaces: ['ens3f0np0', 'ens3f1np1'],
    });
  });

  it('matches the n-th BlueField card to the n-th DPU by hostname, and leaves other cards unlinked', () => {
    const host = machine('host1', 'node-01', {
      interfaces: [iface('bfa', '32.39.1002'), iface('bfb', '32.39.1002'), iface('cx', '22.39.1002')],
      pciDevices: [
        pci('0000:b1:00.0', '15b3', 'a2dc', 'mlx5_core', 'bfb'),
        pci('0000:31:00.0', '15b3', '101d', 'mlx5_core', 'cx'),
        pci('0000:17:00.0', '15b3', 'a2dc', 'mlx5_core', 'bfa'),
      ],
    });
    const dpus = [dpu('d-z', 'node-01-bf-z', 'host1'), dpu('d-a', 'node-01-bf-a', 'host1')];
    const devices = detectDevices(host, dpus, profiles);
    expect(devices.map((d) => [d.name, d.profileId, d.dpuSystemId])).toEqual([
      ['bfa', 'nvidia-bluefield-3-32.39', 'd-a'],
      ['cx', 'mellanox-connectx-6dx-22.39', null],
      ['bfb', 'nvidia-bluefield-3-32.39', 'd-z'],
    ]);
  });

  it('links each BlueField card to the DPU of the same model, whatever the hostname order', () => {
    const host = machine('host1', 'node-01', {
      interfaces: [iface('bf2', '24.35.2000'), iface('bf3', '32.39.1002')],
      pciDevices: [pci('0000:17:00.0', '15b3', 'a2d6', 'mlx5_core', 'bf2'), pci('0000:b1:00.0', '15b3', 'a2dc', 'mlx5_core', 'bf3')],
    });
    const withCard = (m: Machine, productId: string): Machine => ({
      ...m,
      pciDevices: [pci('0000:03:00.0', '15b3', productId, 'mlx5_core', 'p0')],
    });
    const dpus = [withCard(dpu('d-bf3', 'node-01-dpu0', 'host1'), 'a2dc'), withCard(dpu('d-bf2', 'node-01-dpu1', 'host1'), 'a2d6')];
    const devices = detectDevices(host, dpus, profiles);
    expect(devices.map((d) => [d.name, d.dpuSystemId])).toEqual([
      ['bf2', 'd-bf2'],
      ['bf3', 'd-bf3'],
    ]);
  });

  it('leaves a BlueField card unlinked when no DPU machine names this host', () => {
    const host = machine('host1', 'node-01', { pciDevices: [pci('0000:17:00.0', '15b3', 'a2d6', 'mlx5_core', null)] });
    expect(detectDevices(host, [dpu('d', 'x', 'host9')], profiles)[0].dpuSystemId).toBeNull();
  });
});
