import type { MatchActionForm } from '@ioplane/domain';
import { DeviceError } from '../device.error';
import { flowerCommands, flowerRemoveCommands, type FlowLimits } from './flower.rules';

/** Runs one tool with its argv; injected so the command lines are testable without the hardware. */
export type ToolRunner = (tool: 'ip' | 'tc', args: string[]) => Promise<{ code: number; stderr: string }>;

async function must(run: ToolRunner, tool: 'ip' | 'tc', args: string[], what: string): Promise<void> {
  const r = await run(tool, args);
  if (r.code !== 0) throw new DeviceError('kernel_refused', `${what}: ${tool} ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

/**
 * nfp XDP offload on a real host: the program goes into the NIC through the driver
 * (`ip link set dev X xdpoffload obj ...`); an offloaded program cannot tail-call, so one module
 * per port. The offload verifier has accepted the object before this runs.
 */
export class NfpXdpOffload {
  constructor(private readonly run: ToolRunner) {}

  attachCommand(dev: string, objectFile: string, section: string): string[] {
    return ['link', 'set', 'dev', dev, 'xdpoffload', 'obj', objectFile, 'sec', section];
  }
  detachCommand(dev: string): string[] {
    return ['link', 'set', 'dev', dev, 'xdpoffload', 'off'];
  }
  attach(dev: string, objectFile: string, section: string): Promise<void> {
    return must(this.run, 'ip', this.attachCommand(dev, objectFile, section), `offloading ${section} to ${dev}`);
  }
  detach(dev: string): Promise<void> {
    return must(this.run, 'ip', this.detachCommand(dev), `removing the offloaded program from ${dev}`);
  }
}

/**
 * Flow offload into a NIC or DPU eSwitch on a real host: the module's match-action form as
 * tc-flower filters with `skip_sw`, so the kernel refuses any rule the hardware cannot hold
 * instead of running it in software. An emulated stage runs the same rules with `skip_hw`.
 */
export class TcFlowerStage {
  constructor(
    private readonly run: ToolRunner,
    private readonly path: 'skip_sw' | 'skip_hw',
    private readonly limits: FlowLimits,
  ) {}

  installCommands(dev: string, form: MatchActionForm): string[][] {
    return flowerCommands(dev, form, this.path, this.limits);
  }
  async install(dev: string, form: MatchActionForm): Promise<void> {
    const cmds = this.installCommands(dev, form);
    try {
      for (const c of cmds) await must(this.run, 'tc', c, `installing flow rules on ${dev}`);
    } catch (e) {
      // Half a rule set is not a rule set: take back what went in.
      await this.remove(dev, form).catch(() => undefined);
      throw e;
    }
  }
  async remove(dev: string, form: MatchActionForm): Promise<void> {
    for (const c of flowerRemoveCommands(dev, form)) await this.run('tc', c);
  }
}
