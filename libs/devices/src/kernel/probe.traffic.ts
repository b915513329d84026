import { runProcess } from '@ioplane/compiler';
import { DeviceError } from '../device.error';
import type { PortInterface } from '../device.driver';

/**
 * Sends UDP datagrams from the port's peer namespace (node is always there; ping may not be), so
 * every packet crosses the hook once, whatever the chain then does with it.
 */
export async function sendProbe(i: PortInterface, packets: number): Promise<void> {
  const script = `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>{if(n++>=${packets})return s.close();s.send(Buffer.alloc(32),9,'${i.address}',go)};go();`;
  const r = await runProcess('/usr/sbin/ip', ['netns', 'exec', i.peerNetns, process.execPath, '-e', script], {
    timeoutMs: 30_000,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  if (r.code !== 0) throw new DeviceError('kernel_failed', `probe traffic on ${i.name} failed: ${r.stderr.trim().split('\n').pop()}`);
}

/**
 * Sends UDP datagrams from a machine's wire namespace to the host address behind a port, so each
 * one crosses every hop of the port's path (DPU, NIC stage, host) in order.
 */
export async function sendAtWire(wireNetns: string, hostAddress: string, packets: number): Promise<number> {
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(hostAddress))
    throw new DeviceError('port_out_of_range', `not an IPv4 address: ${hostAddress}`, 'hostAddress');
  const n = Math.max(0, Math.floor(packets));
  const script = `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>{if(n++>=${n})return s.close();s.send(Buffer.alloc(32),9,'${hostAddress}',go)};go();`;
  const r = await runProcess('/usr/sbin/ip', ['netns', 'exec', wireNetns, process.execPath, '-e', script], {
    timeoutMs: 30_000,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  if (r.code !== 0) throw new DeviceError('kernel_failed', `probe traffic from ${wireNetns} failed: ${r.stderr.trim().split('\n').pop()}`);
  return n;
}
