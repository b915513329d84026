import type { Target } from '@ioplane/domain';
import { verifyOffload, type ObjectFacts, type VerifierProfile } from '@ioplane/compiler';
import { DeviceError } from '../device.error';
import type { LoadRequest } from '../device.driver';
import { factsOf } from './object.facts';

/**
 * Admission of a chain on an emulated device: the target is one the device offers, the chain fits
 * its program slots, and the profile's offload verifier accepts every module's real bytecode for
 * that target. Returns the modules' object facts and the device map memory they take.
 */
export async function judgeChain(
  req: LoadRequest,
  d: { deviceId: string; profile: VerifierProfile; targets: Target[]; hostXdpElsewhere?: boolean },
): Promise<{ facts: ObjectFacts[]; mapBytes: number }> {
  const limits = d.profile.limits;
  if (!d.targets.includes(req.target)) {
    const why =
      d.hostXdpElsewhere && req.target.startsWith('host-') ? ` on ${d.deviceId}: its netdevs' host XDP runs in another device` : '';
    throw new DeviceError(
      'unsupported_target',
      `${d.profile.id} does not offer ${req.target}${why} (targets: ${d.targets.join(', ')})`,
      'target',
    );
  }
  // A flow target holds rules, not programs: its capacity (flowRules) is the offload verifier's to check.
  const flow = req.target === 'nic-flow-offload' || req.target === 'dpu-flow-offload';
  if (!flow && req.modules.length > limits.programSlotsPerPort) {
    throw new DeviceError(
      'slot_limit',
      `${d.profile.id} runs at most ${limits.programSlotsPerPort} program(s) per port; the chain has ${req.modules.length}`,
      'modules',
    );
  }
  const facts: ObjectFacts[] = [];
  let mapBytes = 0;
  for (const [i, m] of req.modules.entries()) {
    let f: ObjectFacts;
    try {
      f = await factsOf(m.digest, m.object);
    } catch (e) {
      throw new DeviceError('bad_object', `module ${m.name}: not a BPF object: ${(e as Error).message}`, `modules[${i}].object`);
    }
    const verdict = verifyOffload(f, m.program, d.profile);
    const t = verdict.targets.find((x) => x.target === req.target);
    if (!t || !t.accepted) {
      const reasons = t?.reasons ?? verdict.reasons;
      throw new DeviceError(
        'offload_refused',
        `${d.profile.id} refuses module ${m.name} for ${req.target}: ${reasons.map((r) => r.message).join('; ')}`,
        `modules[${i}]`,
        reasons,
      );
    }
    facts.push(f);
    // Flow rules keep no BPF maps on the device: the tables became rules, counted by the verifier against flowRules.
    if (!flow) mapBytes += f.maps.filter((x) => !x.internal).reduce((s, x) => s + x.bytes, 0);
  }
  return { facts, mapBytes };
}
