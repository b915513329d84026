import { existsSync } from 'node:fs';
import { kernelAvailable } from '../libs/compiler/src/kernel/kernel.probe';

const CHROMIUM = process.env.IOPLANE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Turns "this machine can" into "these tests must": where the kernel probe (the one the kernel
 * tests use) loads and runs XDP, kernel tests fail instead of skipping; where Chromium is installed
 * (the system check installs it), the browser test must run. An explicit IOPLANE_REQUIRE_*=0 wins.
 * Whatever cannot run says so loudly, with what to do.
 */
export async function requireCapabilities(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<void> {
  if (process.env.IOPLANE_REQUIRE_KERNEL === undefined) {
    const k = await kernelAvailable();
    if (k.ok) process.env.IOPLANE_REQUIRE_KERNEL = '1';
    else {
      const fix = process.getuid?.() === 0 ? 'this kernel or container refuses XDP' : 'run the tests as root (sudo npm test)';
      log(`\n########## KERNEL PROBE FAILED: ${k.reason} ##########\n## kernel-backed tests will SKIP here: ${fix}\n`);
    }
  }
  if (process.env.IOPLANE_REQUIRE_BROWSER === undefined && existsSync(CHROMIUM)) process.env.IOPLANE_REQUIRE_BROWSER = '1';
}
