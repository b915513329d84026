import { kernelAvailable } from '../kernel/kernel.probe';

/**
 * `describe` for specs that need the real kernel. With the kernel available every `it` runs.
 * Without it, each `it` becomes a passing placeholder that prints `SKIP kernel: <reason>`, unless
 * IOPLANE_REQUIRE_KERNEL=1, in which case each fails with the reason.
 * The probe result is awaited in a beforeAll; `it` bodies check it, because jest collects tests
 * synchronously and cannot wait for the probe while defining them.
 */
export type KernelIt = (testName: string, body: () => unknown, timeoutMs?: number) => void;

export function describeKernel(name: string, fn: (itKernel: KernelIt) => void): void {
  describe(name, () => {
    let availability: { ok: boolean; reason?: string } = { ok: false, reason: 'kernel probe did not run' };
    beforeAll(async () => {
      availability = await kernelAvailable();
    }, 60_000);

    const wrap = (body: () => unknown) =>
      async function kernelGuarded(): Promise<void> {
        if (!availability.ok) {
          if (process.env.IOPLANE_REQUIRE_KERNEL === '1') {
            throw new Error(`kernel required (IOPLANE_REQUIRE_KERNEL=1) but unavailable: ${availability.reason}`);
          }
          console.warn(`SKIP kernel: ${availability.reason}`);
          return;
        }
        await body();
      };

    const itKernel: KernelIt = (testName, body, timeoutMs) => it(testName, wrap(body), timeoutMs ?? 60_000);
    fn(itKernel);
  });
}

/**
 * For specs of the verifier's refusal: an XDP program the kernel refuses with "invalid access to
 * packet" (it checks one byte of the packet, then reads the 21st).
 */
export const OUT_OF_BOUNDS_XDP = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int oob(struct xdp_md *ctx) {
  unsigned char *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  if (data + 1 > end) return XDP_DROP;
  return data[20] == 1 ? XDP_DROP : XDP_PASS;
}
char _license[] SEC("license") = "GPL";
`;
