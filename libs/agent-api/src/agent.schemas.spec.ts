import { loadBodySchema } from './agent.schemas';

const mod = { name: 'm', version: '1', digest: 'a'.repeat(64), signature: 'c2ln', object: 'AAAA', program: 'xdp' };

describe('loadBodySchema', () => {
  it("takes today's body: hook and interface are optional", () => {
    const r = loadBodySchema.safeParse({ target: 'host-xdp-native', modules: [mod] });
    expect(r.success && r.data).toMatchObject({ port: 0, target: 'host-xdp-native' });
    expect(r.success && 'hook' in r.data && r.data.hook).toBeFalsy();
  });

  it('takes a hook and an interface', () => {
    const r = loadBodySchema.safeParse({
      target: 'host-xdp-generic',
      hook: 'xdp-generic',
      interface: 'ens1f0',
      modules: [mod, { ...mod, name: 'n' }],
    });
    expect(r.success && r.data).toMatchObject({ hook: 'xdp-generic', interface: 'ens1f0' });
  });

  it('refuses a hook that is not a host XDP hook, naming the field', () => {
    const r = loadBodySchema.safeParse({ target: 'host-xdp-native', hook: 'nic-xdp-offload', modules: [mod] });
    expect(r.success).toBe(false);
    expect(!r.success && r.error.issues[0].path).toEqual(['hook']);
  });

  it('takes up to 32 modules, the tail-call bound of a hook', () => {
    expect(loadBodySchema.safeParse({ target: 'host-xdp-native', modules: Array(32).fill(mod) }).success).toBe(true);
    expect(loadBodySchema.safeParse({ target: 'host-xdp-native', modules: Array(33).fill(mod) }).success).toBe(false);
  });
});
