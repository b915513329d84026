import { z } from 'zod';

// Tolerant on purpose: MAAS versions add fields, and many fields are null or absent
// on some versions (is_dpu only from 3.7, pod/parent null, firmware_version null).
// Only what ioplane cannot do without is required.

const str = z.string();
const optStr = z.string().nullish();
const optNum = z.number().nullish();

const ref = z.looseObject({ id: z.number().optional(), name: z.string().optional(), resource_uri: optStr });

export const rawZoneSchema = z.looseObject({ id: z.number(), name: str, description: optStr, resource_uri: optStr });
export const rawPoolSchema = rawZoneSchema;

export const rawLinkSchema = z.looseObject({
  id: optNum,
  mode: optStr,
  ip_address: optStr,
  subnet: z.looseObject({ id: optNum, name: optStr, cidr: optStr, gateway_ip: optStr }).nullish(),
});

export const rawInterfaceSchema = z.looseObject({
  id: z.number(),
  name: str,
  type: optStr,
  mac_address: optStr,
  enabled: z.boolean().nullish(),
  vendor: optStr,
  product: optStr,
  firmware_version: optStr,
  link_connected: z.boolean().nullish(),
  interface_speed: optNum,
  link_speed: optNum,
  effective_mtu: optNum,
  numa_node: optNum,
  sriov_max_vf: optNum,
  parents: z.array(str).nullish(),
  children: z.array(str).nullish(),
  tags: z.array(str).nullish(),
  links: z.array(rawLinkSchema).nullish(),
  vlan: z.looseObject({ vid: optNum, fabric: optStr }).nullish(),
  system_id: optStr,
  resource_uri: optStr,
});

const parentRef = z.looseObject({ system_id: str, resource_uri: optStr });

export const rawHardwareInfoSchema = z.looseObject({
  system_vendor: optStr,
  system_product: optStr,
  system_family: optStr,
  cpu_model: optStr,
});

export const rawMachineSchema = z.looseObject({
  system_id: str,
  hostname: str,
  fqdn: optStr,
  description: optStr,
  owner: optStr,
  owner_data: z.record(z.string(), z.string()).nullish(),
  workload_annotations: z.record(z.string(), z.string()).nullish(),
  locked: z.boolean().nullish(),
  architecture: optStr,
  cpu_count: optNum,
  cpu_speed: optNum,
  memory: optNum,
  status: z.number(),
  status_name: optStr,
  status_message: optStr,
  osystem: optStr,
  distro_series: optStr,
  power_type: optStr,
  power_state: optStr,
  tag_names: z.array(str).nullish(),
  ip_addresses: z.array(str).nullish(),
  interface_set: z.array(rawInterfaceSchema).nullish(),
  zone: ref.nullish(),
  pool: ref.nullish(),
  node_type: optNum,
  node_type_name: optStr,
  parent: parentRef.nullish(),
  pod: z.unknown().optional(),
  virtualmachine_id: z.unknown().optional(),
  hardware_info: rawHardwareInfoSchema.nullish(),
  is_dpu: z.boolean().nullish(),
  resource_uri: optStr,
});

export const rawPciDeviceSchema = z.looseObject({
  id: optNum,
  bus: optNum,
  hardware_type: optNum,
  system_id: optStr,
  vendor_id: str,
  product_id: str,
  vendor_name: optStr,
  product_name: optStr,
  commissioning_driver: optStr,
  bus_number: optNum,
  device_number: optNum,
  pci_address: optStr,
  // MAAS serialises the NUMA node index; some versions nest it as {index}
  numa_node: z.union([z.number(), z.looseObject({ index: z.number() })]).nullish(),
  // an interface object, a bare interface name, or null
  physical_interface: z.union([str, z.looseObject({ name: str })]).nullish(),
  physical_blockdevice: z.unknown().optional(),
});

export const rawTagSchema = z.looseObject({
  name: str,
  definition: optStr,
  comment: optStr,
  kernel_opts: optStr,
  resource_uri: optStr,
});

export const rawEventSchema = z.looseObject({
  id: z.number(),
  node: optStr,
  hostname: optStr,
  username: optStr,
  level: optStr,
  created: optStr,
  type: optStr,
  description: optStr,
});

export const eventQueryResponseSchema = z.looseObject({
  count: z.number(),
  events: z.array(rawEventSchema),
  next_uri: optStr,
  prev_uri: optStr,
});

export const versionSchema = z.looseObject({
  version: str,
  subversion: z
    .string()
    .nullish()
    .transform((v) => v ?? ''),
  capabilities: z
    .array(str)
    .nullish()
    .transform((v) => v ?? []),
});

export const whoamiSchema = z.looseObject({
  username: str,
  is_superuser: z.boolean().optional(),
  email: optStr,
});

export type RawZone = z.infer<typeof rawZoneSchema>;
export type RawPool = z.infer<typeof rawPoolSchema>;
export type RawInterface = z.infer<typeof rawInterfaceSchema>;
export type RawMachine = z.infer<typeof rawMachineSchema>;
export type RawPciDevice = z.infer<typeof rawPciDeviceSchema>;
export type RawTag = z.infer<typeof rawTagSchema>;
export type RawEvent = z.infer<typeof rawEventSchema>;
export type MaasVersion = z.infer<typeof versionSchema>;
export type MaasWhoami = z.infer<typeof whoamiSchema>;
