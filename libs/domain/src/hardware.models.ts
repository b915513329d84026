/**
 * PCI identities of the NICs and DPUs ioplane knows, as written in /work/notes/hardware-ids.md:
 * the simulator's fleets carry them, the spec fixtures build cards from them, and firmware
 * profiles (firmware-profiles/*.yaml) match on these exact values. One table, so a fixture card
 * is always a card the simulator could report.
 */
export interface NicModel {
  vendorId: string;
  productId: string;
  vendorName: string;
  productName: string;
  driver: string;
  firmwareVersion: string;
  linkSpeedMbps: number;
  ports: number;
  sriovMaxVf: number;
  /** First three MAC octets, so addresses look like the vendor's. */
  oui: string;
}

const NETRONOME = {
  vendorId: '19ee',
  productId: '4000',
  vendorName: 'Netronome Systems, Inc.',
  productName: 'Device 4000 (Agilio CX 2x25GbE)',
  driver: 'nfp',
  linkSpeedMbps: 25000,
  ports: 2,
  sriovMaxVf: 55,
  oui: '00:15:4d',
};

export const NIC_MODELS = {
  'agilio-cx-bpf': { ...NETRONOME, firmwareVersion: 'bpf-2.1.16.1' },
  'agilio-cx-flower': { ...NETRONOME, firmwareVersion: 'flower-2.1.16.1' },
  'agilio-cx-nic': { ...NETRONOME, firmwareVersion: 'nic-2.1.16.1' },
  'connectx-6dx': {
    vendorId: '15b3',
    productId: '101d',
    vendorName: 'Mellanox Technologies',
    productName: 'MT2892 Family [ConnectX-6 Dx]',
    driver: 'mlx5_core',
    firmwareVersion: '22.39.1002',
    linkSpeedMbps: 100000,
    ports: 2,
    sriovMaxVf: 127,
    oui: 'b8:ce:f6',
  },
  'connectx-7': {
    vendorId: '15b3',
    productId: '1021',
    vendorName: 'Mellanox Technologies',
    productName: 'MT2910 Family [ConnectX-7]',
    driver: 'mlx5_core',
    firmwareVersion: '28.39.1002',
    linkSpeedMbps: 200000,
    ports: 2,
    sriovMaxVf: 127,
    oui: 'a0:88:c2',
  },
  'pensando-dsc25': {
    vendorId: '1dd8',
    productId: '1002',
    vendorName: 'Pensando Systems',
    productName: 'DSC Ethernet Controller',
    driver: 'ionic',
    firmwareVersion: '1.28.1-E-45',
    linkSpeedMbps: 25000,
    ports: 2,
    sriovMaxVf: 16,
    oui: '00:ae:cd',
  },
  'intel-e810': {
    vendorId: '8086',
    productId: '1592',
    vendorName: 'Intel Corporation',
    productName: 'Ethernet Controller E810-C for QSFP',
    driver: 'ice',
    firmwareVersion: '4.20 0x8001778b 1.3346.0',
    linkSpeedMbps: 100000,
    ports: 2,
    sriovMaxVf: 128,
    oui: 'b4:96:91',
  },
  'intel-x710': {
    vendorId: '8086',
    productId: '1572',
    vendorName: 'Intel Corporation',
    productName: 'Ethernet Controller X710 for 10GbE SFP+',
    driver: 'i40e',
    firmwareVersion: '9.20 0x8000d95e 1.3353.0',
    linkSpeedMbps: 10000,
    ports: 2,
    sriovMaxVf: 64,
    oui: '3c:fd:fe',
  },
  bcm57414: {
    vendorId: '14e4',
    productId: '16d7',
    vendorName: 'Broadcom Inc. and subsidiaries',
    productName: 'BCM57414 NetXtreme-E 10Gb/25Gb',
    driver: 'bnxt_en',
    firmwareVersion: '226.0.145.0',
    linkSpeedMbps: 25000,
    ports: 2,
    sriovMaxVf: 64,
    oui: '00:0a:f7',
  },
} satisfies Record<string, NicModel>;

export type NicModelKey = keyof typeof NIC_MODELS;
export const NIC_MODEL_KEYS = Object.keys(NIC_MODELS) as [NicModelKey, ...NicModelKey[]];

export interface DpuModel {
  /** The PCI function the host sees, also the DPU's own p0/p1 ports. */
  nic: NicModel;
  cpuCount: number;
  cpuSpeedMHz: number;
  cpuModel: string;
  memoryMiB: number;
  storageBytes: number;
  systemProduct: string;
  systemVersion: string;
}

export const DPU_MODELS = {
  'bluefield-2': {
    nic: {
      vendorId: '15b3',
      productId: 'a2d6',
      vendorName: 'Mellanox Technologies',
      productName: 'MT42822 BlueField-2 integrated ConnectX-6 Dx network controller',
      driver: 'mlx5_core',
      firmwareVersion: '24.35.2000',
      linkSpeedMbps: 100000,
      ports: 2,
      sriovMaxVf: 127,
      oui: '08:c0:eb',
    },
    cpuCount: 8,
    cpuSpeedMHz: 2500,
    cpuModel: 'Cortex-A72',
    memoryMiB: 16384,
    storageBytes: 64_000_000_000,
    systemProduct: 'BlueField SoC',
    systemVersion: 'BlueField-2 DPU 100GbE Dual-Port QSFP56',
  },
  'bluefield-3': {
    nic: {
      vendorId: '15b3',
      productId: 'a2dc',
      vendorName: 'Mellanox Technologies',
      productName: 'MT43244 BlueField-3 integrated ConnectX-7 network controller',
      driver: 'mlx5_core',
      firmwareVersion: '32.39.1002',
      linkSpeedMbps: 200000,
      ports: 2,
      sriovMaxVf: 127,
      oui: '58:a2:e1',
    },
    cpuCount: 16,
    cpuSpeedMHz: 3000,
    cpuModel: 'Cortex-A78AE',
    memoryMiB: 32768,
    storageBytes: 128_000_000_000,
    systemProduct: 'BlueField-3 DPU',
    systemVersion: 'BlueField-3 B3220 P-Series 200GbE Dual-Port QSFP112',
  },
} satisfies Record<string, DpuModel>;

export type DpuModelKey = keyof typeof DPU_MODELS;
export const DPU_MODEL_KEYS = Object.keys(DPU_MODELS) as [DpuModelKey, ...DpuModelKey[]];

/** Boot disk controller every machine carries, so the device list is not network-only. */
export const NVME_CONTROLLER = {
  vendorId: '144d',
  productId: 'a80a',
  vendorName: 'Samsung Electronics Co Ltd',
  productName: 'NVMe SSD Controller PM9A1/PM9A3/980PRO',
  driver: 'nvme',
} as const;
