import { RawMachine, RawPciDevice, toMachine } from './index';
import { rawMachineSchema, rawPciDeviceSchema } from './maas.schemas';
import hostJson from './testing/machine-host.fixture.json';
import devicesJson from './testing/devices-host.fixture.json';

const host = (): RawMachine => rawMachineSchema.parse(structuredClone(hostJson));
const devices = (): RawPciDevice[] => rawPciDeviceSchema.array().parse(structuredClone(devicesJson));

describe('toMachine', () => {
  it('maps a realistic host (is_dpu absent) to the domain Machine', () => {
    const m = toMachine(host(), devices());
    expect(m).toMatchObject({
      systemId: 'x7kq3p',
      hostname: 'edge-r1-n07',
      fqdn: 'edge-r1-n07.maas',
      zone: 'zone-1',
      pool: 'edge',
      tags: ['ioplane', 'smartnic', 'rack-r1'],
      status: 6,
      statusName: 'Deployed',
      architecture: 'amd64/generic',
      cpuCount: 64,
      memoryMiB: 262144,
      powerState: 'on',
      ipAddresses: ['127.77.1.7', '10.20.1.7'],
      parentSystemId: null,
      isDpu: false,
      hardware: {
        systemVendor: 'Supermicro',
        systemProduct: 'SYS-1029U-TN10RT',
        systemFamily: 'Unknown',
        cpuModel: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz',
      },
      // workload_annotations wins over the deprecated owner_data
      workloadAnnotations: { 'ioplane/placement': 'xdp-lb@nfp0', 'ioplane/epoch': '42' },
    });
    expect(m.interfaces).toMatchObject([
      {
        id: 101,
        name: 'eno1',
        type: 'physical',
        macAddress: '3c:ec:ef:10:20:07',
        vendor: 'Intel Corporation',
        product: 'Ethernet Controller X710 for 10GbE SFP+',
        firmwareVersion: '9.20 0x8000d95e 1.3353.0',
        linkSpeedMbps: 10000,
        numaNode: 0,
        enabled: true,
      },
      {
        id: 102,
        name: 'enp65s0np0',
        type: 'physical',
        macAddress: '00:15:4d:13:5a:10',
        vendor: 'Netronome Systems, Inc.',
        product: 'Device 4000 (Agilio CX 2x25GbE)',
        firmwareVersion: 'bpf-2.1.16.1',
        linkSpeedMbps: 25000,
        numaNode: 1,
        enabled: true,
      },
      {
        id: 103,
        name: 'enp129s0f0np0',
        type: 'physical',
        macAddress: 'b8:ce:f6:aa:01:02',
        vendor: 'Mellanox Technologies',
        product: 'MT42822 BlueField-2 integrated ConnectX-6 Dx network controller',
        firmwareVersion: null,
        // no link negotiated: fall back to the card's speed
        linkSpeedMbps: 100000,
        numaNode: 1,
        enabled: true,
      },
    ]);
    // What an ingress selector reads: the uplink is the interface linked to a subnet.
    expect(m.interfaces.map((i) => [i.name, i.subnets, i.vlan, i.tags])).toEqual([
      ['eno1', ['10.20.1.0/24'], { vid: 0, fabric: 'fabric-0' }, ['sriov']],
      ['enp65s0np0', [], null, []],
      ['enp129s0f0np0', [], null, []],
    ]);
    // the USB keyboard has no PCI address and is left out
    expect(m.pciDevices).toEqual([
      {
        vendorId: '8086',
        productId: '1572',
        vendorName: 'Intel Corporation',
        productName: 'Ethernet Controller X710 for 10GbE SFP+',
        driver: 'i40e',
        pciAddress: '0000:18:00.0',
        numaNode: 0,
        interfaceName: 'eno1',
      },
      {
        vendorId: '19ee',
        productId: '4000',
        vendorName: 'Netronome Systems, Inc.',
        productName: 'Device 4000 (Agilio CX 2x25GbE)',
        driver: 'nfp',
        pciAddress: '0000:41:00.0',
        numaNode: 1,
        interfaceName: 'enp65s0np0',
      },
      {
        vendorId: '15b3',
        productId: 'a2d6',
        vendorName: 'Mellanox Technologies',
        productName: 'MT42822 BlueField-2 integrated ConnectX-6 Dx network controller',
        driver: 'mlx5_core',
        pciAddress: '0000:81:00.0',
        numaNode: 1,
        interfaceName: null,
      },
    ]);
  });

  it('recognises a BlueField DPU machine from its system family when is_dpu is absent', () => {
    const raw = host();
    raw.system_id = 'dpu001';
    raw.architecture = 'arm64/generic';
    raw.parent = { system_id: 'x7kq3p', resource_uri: '/MAAS/api/2.0/machines/x7kq3p/', __incomplete__: true };
    raw.hardware_info = { ...raw.hardware_info, system_family: 'BlueField', system_vendor: 'https://www.mellanox.com' };
    const m = toMachine(raw, []);
    expect(m.isDpu).toBe(true);
    expect(m.parentSystemId).toBe('x7kq3p');
    expect(m.pciDevices).toEqual([]);
  });

  it('trusts is_dpu when MAAS reports it', () => {
    const raw = { ...host(), is_dpu: false, hardware_info: { system_family: 'BlueField' } };
    expect(toMachine(raw, []).isDpu).toBe(false);
  });

  it('falls back to owner_data and tolerates nulls from older MAAS', () => {
    const raw = rawMachineSchema.parse({
      system_id: 'old1',
      hostname: 'old',
      status: 4,
      owner_data: { k: 'v' },
      zone: null,
      pool: null,
      tag_names: null,
      ip_addresses: null,
      interface_set: null,
      hardware_info: null,
      parent: null,
      pod: null,
    });
    const m = toMachine(raw, []);
    expect(m.workloadAnnotations).toEqual({ k: 'v' });
    expect(m).toMatchObject({ zone: '', pool: '', tags: [], interfaces: [], isDpu: false, fqdn: 'old', powerState: 'unknown' });
    expect(m.hardware.systemFamily).toBe('Unknown');
  });
});
