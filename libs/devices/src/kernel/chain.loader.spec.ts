import { promises as fsp, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadToolchain, runProcess } from '@ioplane/compiler';
import { DeviceError } from '../device.error';
import { chainMechanismFor, chainRefusal, slotsPerHook } from './chain.loader';
import { CHAIN_HEADER, hasChainEntry, TAIL_CALL_SLOTS } from './chain.root';

const PLAIN = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int plain(struct xdp_md *ctx) { return XDP_PASS; }
char _license[] SEC("license") = "GPL";
`;
const CHAINED = `#include "iop_chain.h"
static __always_inline int v(struct xdp_md *ctx) { return XDP_PASS; }
SEC("xdp") int chained(struct xdp_md *ctx) { return v(ctx); }
IOP_CHAIN_ENTRY(v)
char _license[] SEC("license") = "GPL";
`;

describe('chain loader', () => {
  let dir: string;
  let plain: Buffer;
  let chained: Buffer;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(join(tmpdir(), 'iop-chain-spec-'));
    await fsp.copyFile(CHAIN_HEADER, join(dir, 'iop_chain.h'));
    const tc = await loadToolchain('clang');
    const build = async (name: string, text: string): Promise<Buffer> => {
      await fsp.writeFile(join(dir, `${name}.c`), text);
      const r = await runProcess(tc.clang, [...tc.flags, '-c', join(dir, `${name}.c`), '-o', join(dir, `${name}.o`)], {
        timeoutMs: 60_000,
      });
      if (r.code !== 0) throw new Error(r.stderr);
      return fsp.readFile(join(dir, `${name}.o`));
    };
    plain = await build('plain', PLAIN);
    chained = await build('chained', CHAINED);
  }, 120_000);

  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('tells a module built with the epilogue from one without', () => {
    expect(hasChainEntry(chained)).toBe(true);
    expect(hasChainEntry(plain)).toBe(false);
    expect(hasChainEntry(Buffer.from('not an object'))).toBe(false);
  });

  it('runs a lone module under the root only when it carries the epilogue and tail calls carry chains', () => {
    expect(chainMechanismFor('tail-call', [{ name: 'a', object: chained }])).toBe('tail-call');
    expect(chainMechanismFor('tail-call', [{ name: 'a', object: plain }])).toBe('single');
    expect(chainMechanismFor('freplace', [{ name: 'a', object: chained }])).toBe('single');
    expect(chainMechanismFor('none', [{ name: 'a', object: chained }])).toBe('single');
  });

  it('chains several modules by tail calls, or by freplace where the kernel allows it', () => {
    const two = [
      { name: 'a', object: chained },
      { name: 'b', object: chained },
    ];
    expect(chainMechanismFor('tail-call', two)).toBe('tail-call');
    expect(
      chainMechanismFor('freplace', [
        { name: 'a', object: plain },
        { name: 'b', object: plain },
      ]),
    ).toBe('freplace');
  });

  it('refuses a tail-call chain with a module lacking the epilogue, naming that module', () => {
    const e = (() => {
      try {
        chainMechanismFor('tail-call', [
          { name: 'a', object: chained },
          { name: 'b', object: plain },
        ]);
      } catch (x) {
        return x as DeviceError;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(DeviceError);
    expect(e).toMatchObject({ code: 'chain_unsupported', field: 'modules[1]' });
    expect(() =>
      chainMechanismFor('none', [
        { name: 'a', object: chained },
        { name: 'b', object: chained },
      ]),
    ).toThrow(expect.objectContaining({ code: 'chain_unsupported', field: 'modules' }));
  });

  it('reports the real slots per hook for each mechanism', () => {
    expect(slotsPerHook('tail-call')).toBe(TAIL_CALL_SLOTS);
    expect(TAIL_CALL_SLOTS).toBeLessThan(33);
    expect(slotsPerHook('freplace')).toBe(10);
    expect(slotsPerHook('none')).toBe(1);
  });

  it('keeps TAIL_CALL_SLOTS equal to IOP_CHAIN_SLOTS in the header', () => {
    const m = /#define IOP_CHAIN_SLOTS (\d+)/.exec(readFileSync(CHAIN_HEADER, 'utf8'));
    expect(Number(m?.[1])).toBe(TAIL_CALL_SLOTS);
  });

  it('maps iop-xdpctl refusals to coded errors naming the module', () => {
    const mods = [{ name: 'a' }, { name: 'b' }];
    expect(
      chainRefusal({ error: 'no_chain_entry', detail: 'xdp', errno: 2, stderr: 'module 1 (xdp) has no iop_chain_entry\n' }, mods),
    ).toMatchObject({ code: 'chain_unsupported', field: 'modules[1]' });
    expect(
      chainRefusal({ error: 'prog_array', detail: 'xdp', errno: 22, stderr: 'module 1 (xdp) refused by the program array\n' }, mods),
    ).toMatchObject({ code: 'kernel_refused', field: 'modules[1]' });
    expect(chainRefusal({ error: 'map_reuse', detail: 'module 1: iop_chain maps differ', errno: 22, stderr: '' }, mods)).toMatchObject({
      code: 'map_incompatible',
      field: 'modules[1].persistentMaps',
    });
    expect(chainRefusal({ error: 'pin', detail: '/x', errno: 17, stderr: '' }, mods)).toMatchObject({ code: 'kernel_failed' });
  });
});
