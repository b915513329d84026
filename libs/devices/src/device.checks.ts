import { DeviceError } from './device.error';
import type { VectorRequest } from './device.driver';

/** Port `port` of a device's `ports`, or the refusal naming the ports the device has. */
export function devicePort<T>(deviceId: string, ports: readonly T[], port: number): T {
  if (!Number.isInteger(port) || port < 0 || port >= ports.length) {
    throw new DeviceError('port_out_of_range', `port ${port} does not exist on ${deviceId} (ports 0-${ports.length - 1})`, 'port');
  }
  return ports[port];
}

/**
 * The slot of the chain `modules` that vector `i` of a batch runs against: the module it names, or
 * the chain's only module; the refusal otherwise.
 */
export function vectorSlot(modules: readonly { name: string }[], v: Pick<VectorRequest, 'module'>, i: number): number {
  const idx = v.module ? modules.findIndex((m) => m.name === v.module) : modules.length === 1 ? 0 : -1;
  if (idx < 0)
    throw new DeviceError(
      'not_found',
      v.module ? `module ${v.module} is not in the chain` : 'the chain has several modules; name one',
      `vectors[${i}].module`,
    );
  return idx;
}
