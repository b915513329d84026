import type { ChainModule } from '../device.driver';
import { checkLoadRequest, type HookFacts } from './load.request';

const mod = (name = 'm', persistentMaps: string[] = []): ChainModule => ({
  name,
  version: '1',
  digest: 'd',
  program: 'xdp',
  persistentMaps,
  object: Buffer.alloc(0),
});
const facts: HookFacts = { targets: ['host-xdp-native', 'host-xdp-generic'], slots: 3, interfaceNames: ['x1p0', 'ens1f0'] };
const err = (fn: () => void): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
};

describe(checkLoadRequest.name, () => {
  it("accepts today's request without hook or interface", () => {
    expect(() => checkLoadRequest({ port: 0, target: 'host-xdp-native', modules: [mod('a'), mod('b')] }, facts)).not.toThrow();
  });

  it('accepts a hook and interface that agree with the target and the port', () => {
    expect(() =>
      checkLoadRequest(
        { port: 0, target: 'host-xdp-generic', hook: 'xdp-generic', interface: 'x1p0', modules: [mod()] },
        { ...facts, runningMode: 'generic' },
      ),
    ).not.toThrow();
  });

  it('refuses more modules than the hook has slots', () => {
    expect(
      err(() => checkLoadRequest({ port: 0, target: 'host-xdp-native', modules: [mod('a'), mod('b'), mod('c'), mod('d')] }, facts)),
    ).toMatchObject({ code: 'slot_limit', field: 'modules' });
  });

  it("refuses a hook that is not the target's", () => {
    expect(err(() => checkLoadRequest({ port: 0, target: 'host-xdp-native', hook: 'xdp-generic', modules: [mod()] }, facts))).toMatchObject(
      { code: 'unsupported_target', field: 'hook' },
    );
  });

  it('refuses moving a running chain to the other mode, which no atomic swap can do', () => {
    expect(
      err(() =>
        checkLoadRequest(
          { port: 0, target: 'host-xdp-native', hook: 'xdp-native', modules: [mod()] },
          { ...facts, runningMode: 'generic' },
        ),
      ),
    ).toMatchObject({ code: 'unsupported_target', field: 'hook' });
  });

  it('knows the port by its netdev and by the MAAS interface it stands for', () => {
    expect(() => checkLoadRequest({ port: 0, target: 'host-xdp-native', interface: 'ens1f0', modules: [mod()] }, facts)).not.toThrow();
  });

  it('refuses an interface the port is not', () => {
    expect(err(() => checkLoadRequest({ port: 0, target: 'host-xdp-native', interface: 'eth9', modules: [mod()] }, facts))).toMatchObject({
      code: 'port_out_of_range',
      field: 'interface',
    });
  });

  it('refuses bad module and map names, naming the index', () => {
    expect(err(() => checkLoadRequest({ port: 0, target: 'host-xdp-native', modules: [mod('ok'), mod('bad/name')] }, facts))).toMatchObject(
      { code: 'bad_object', field: 'modules[1].name' },
    );
    expect(err(() => checkLoadRequest({ port: 0, target: 'host-xdp-native', modules: [mod('ok', ['a-b'])] }, facts))).toMatchObject({
      code: 'bad_object',
      field: 'modules[0].persistentMaps[0]',
    });
  });

  it('refuses a target the device does not offer', () => {
    expect(err(() => checkLoadRequest({ port: 0, target: 'nic-xdp-offload', modules: [mod()] }, facts))).toMatchObject({
      code: 'unsupported_target',
      field: 'target',
    });
  });
});
