import { firmwareOf, Layout, layoutFrom } from './machine.layout';
import type { StepContext } from './machine.runbook';
import { RolloutFailure } from './rollout.failure';

/**
 * The flash step: every device the plan switches to another firmware flavour is flashed, unless
 * it already runs it (a resumed job). Returns the port layout when nothing was flashed (the
 * inventory read for the step still holds), else undefined: another flavour offers other slots.
 */
export async function flashStep({ want, deps, move, note, current, beforeStep, inventory }: StepContext): Promise<Layout | undefined> {
  const flashes = want.flashes.filter((f) => !current().flashed.includes(f.deviceId));
  if (flashes.length) {
    // The inventory reports each device's active firmware and, when nothing gets flashed, its slots.
    const inv = await beforeStep(inventory());
    let flashed = false;
    await move('flashing', {}, flashes.map((f) => `${f.deviceId} -> ${f.profileId}`).join(', '));
    // Devices are independent: their flashes run at once, and every one that finished is recorded,
    // so a failure of one rolls back all that changed.
    const results = await Promise.allSettled(
      flashes.map(async (f) => {
        if (firmwareOf(inv, f.deviceId)?.profileId === f.profileId) return f.deviceId;
        flashed = true;
        const img = deps.firmwareImage(f.profileId);
        const res = await deps.agent.flash(
          f.deviceId,
          {
            image: {
              profileId: img.profileId,
              version: img.version,
              digest: img.digest,
              signature: deps.sign(img.digest),
              bytes: img.bytes.toString('base64'),
            },
            activate: true,
          },
          deps.signal,
        );
        if (res.status !== 'committed' && res.status !== 'already_active')
          throw new RolloutFailure(
            'flash',
            `flash of ${f.deviceId} to ${f.profileId}: ${res.status}${res.reason ? `: ${res.reason}` : ''}`,
          );
        return f.deviceId;
      }),
    );
    const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (done.length) note({ flashed: [...current().flashed, ...done] }, `${done.join(', ')} flashed`);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (!flashed) return layoutFrom(inv, want);
  }
  return undefined;
}
