import { MAX_BURST_PACKETS, MAX_WIRE_PPS, WireTrafficError, type WireTraffic } from './fleet-sim.traffic';

export interface TrafficReply {
  status: number;
  body: unknown;
}

const STATUS: Record<WireTrafficError['code'], number> = { not_packet_true: 409, unknown_port: 404, invalid_rate: 400, sender_failed: 502 };

const refusal = (status: number, code: string, field: string, message: string): TrafficReply => ({
  status,
  body: { error: { code, field, message } },
});

/**
 * `/sim/traffic`: real packets into a packet-true fleet's ports.
 * - `GET /sim/traffic`: the steady senders running.
 * - `PUT /sim/traffic/{system_id}/{interface}` with `{"pps": n}` starts a steady sender there (replacing
 *   the port's); with `{"pps": n, "packets": k}` sends exactly k packets at n pps and answers, once
 *   they are sent, with `{sent, failed, ms}`. pps is at most MAX_WIRE_PPS.
 * - `DELETE /sim/traffic[/{system_id}[/{interface}]]`: stops the steady senders it names.
 * Errors are `{error: {code, field, message}}`.
 */
export async function handleTraffic(traffic: WireTraffic | null, method: string, args: string[], body: Buffer): Promise<TrafficReply> {
  if (!traffic)
    return refusal(
      409,
      'not_packet_true',
      'fleet',
      'no packet-true fleet: the simulator runs no agents in network namespaces (run as root with kernel agents)',
    );
  const [systemId, iface, ...rest] = args;
  if (rest.length) return refusal(404, 'not_found', 'path', `no such path: /sim/traffic/${args.join('/')}`);
  try {
    if (method === 'GET' && !systemId)
      return { status: 200, body: { senders: traffic.running(), maxPps: MAX_WIRE_PPS, maxBurstPackets: MAX_BURST_PACKETS } };
    if (method === 'DELETE') return { status: 200, body: { stopped: await traffic.stop(systemId, iface) } };
    if (method === 'PUT' && systemId && iface) {
      let input: unknown;
      try {
        input = JSON.parse(body.toString('utf8') || '{}');
      } catch {
        return refusal(400, 'validation', 'body', 'body must be a JSON object: {"pps": n} or {"pps": n, "packets": k}');
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input))
        return refusal(400, 'validation', 'body', 'body must be a JSON object: {"pps": n} or {"pps": n, "packets": k}');
      const { pps, packets, ...extra } = input as { pps?: unknown; packets?: unknown };
      const unknown = Object.keys(extra)[0];
      if (unknown) return refusal(400, 'validation', unknown, `unknown field ${unknown}; a sender takes pps and packets`);
      if (packets === undefined) return { status: 200, body: await traffic.start(systemId, iface, pps as number) };
      return { status: 200, body: await traffic.burst(systemId, iface, packets as number, pps as number) };
    }
    return refusal(
      405,
      'method_not_allowed',
      'method',
      `${method} is not allowed here: GET /sim/traffic, PUT or DELETE /sim/traffic/{system_id}/{interface}`,
    );
  } catch (e) {
    if (e instanceof WireTrafficError) return refusal(STATUS[e.code], e.code, e.field, e.message);
    throw e;
  }
}
