import { assertTransition, MachineRecord, newMachineRecord, StateTransitionError } from './machine.state';
import { AgentFacts, resolveMachine } from './reconcile';

const rec = (patch: Partial<MachineRecord>): MachineRecord => ({ ...newMachineRecord('m1', 'h1', 0), ...patch });
const port = (runsNew: boolean, uncommitted: boolean, chain = 'm1/nfp0|nic-xdp-offload') => ({ chain, runsNew, uncommitted });
const facts = (...ports: AgentFacts['ports']): AgentFacts => ({ ports });

describe('the unknown state', () => {
  it('is reached from every in-flight state and left only for committed or restored', () => {
    for (const from of ['pending', 'flashing', 'loading', 'verifying'] as const)
      expect(() => assertTransition(from, 'unknown')).not.toThrow();
    for (const to of ['committed', 'rolling-back', 'rolled-back', 'unknown'] as const)
      expect(() => assertTransition('unknown', to)).not.toThrow();
    for (const to of ['loading', 'verifying', 'pending', 'cancelled'] as const)
      expect(() => assertTransition('unknown', to)).toThrow(StateTransitionError);
    // Terminal states stay terminal: nothing goes back to unknown.
    for (const from of ['rolled-back', 'failed', 'cancelled'] as const)
      expect(() => assertTransition(from, 'unknown')).toThrow(StateTransitionError);
  });
});

describe('resolveMachine: what the reconciler does with a machine, from its record and its agent', () => {
  it('leaves terminal machines, running jobs and verified machines awaiting their wave alone', () => {
    expect(resolveMachine(rec({ state: 'committed' }), facts(port(true, false)), false)).toEqual({ action: 'none' });
    expect(resolveMachine(rec({ state: 'rolled-back' }), facts(port(true, true)), false)).toEqual({ action: 'none' });
    expect(resolveMachine(rec({ state: 'loading' }), facts(port(true, true)), true)).toEqual({ action: 'wait' });
    expect(resolveMachine(rec({ state: 'verifying', verifiedAt: 'x' }), facts(port(true, true)), false)).toEqual({ action: 'wait' });
  });

  it('an unknown machine is resolved even while a job of it exists', () => {
    expect(resolveMachine(rec({ state: 'unknown' }), facts(port(true, true)), true)).toEqual({
      action: 'restore',
      loaded: ['m1/nfp0|nic-xdp-offload'],
      flashed: [],
    });
  });

  it('committed-new only when every port runs the new chain with no previous held', () => {
    expect(resolveMachine(rec({ state: 'unknown' }), facts(port(true, false), port(true, false, 'b')), false)).toEqual({
      action: 'record-committed',
    });
    expect(resolveMachine(rec({ state: 'unknown', loaded: ['b'] }), facts(port(true, false), port(true, true, 'b')), false)).toEqual({
      action: 'restore',
      loaded: ['b'],
      flashed: [],
    });
    expect(resolveMachine(rec({ state: 'unknown' }), facts(), false)).toEqual({ action: 'record-restored' });
  });

  it("a load the record missed but the agent holds uncommitted is restored as this rollout's", () => {
    expect(resolveMachine(rec({ state: 'loading', loaded: [] }), facts(port(true, true)), false)).toEqual({
      action: 'restore',
      loaded: ['m1/nfp0|nic-xdp-offload'],
      flashed: [],
    });
  });

  it('a flash on the record is restored even when no chain of ours runs', () => {
    expect(resolveMachine(rec({ state: 'flashing', flashed: ['m1/nfp0'] }), facts(port(false, false)), false)).toEqual({
      action: 'restore',
      loaded: [],
      flashed: ['m1/nfp0'],
    });
  });

  it('a flash whose answer never came (its agent died or hung) is restored when the card runs the target flavour', () => {
    expect(resolveMachine(rec({ state: 'unknown', flashed: [] }), { ports: [port(false, false)], flashed: ['m1/nfp0'] }, false)).toEqual({
      action: 'restore',
      loaded: [],
      flashed: ['m1/nfp0'],
    });
    // Still writing or activating: asked again later, never taken for the old flavour.
    expect(
      resolveMachine(rec({ state: 'unknown', flashed: [] }), { ports: [port(false, false)], flashed: [], updating: ['m1/nfp0'] }, false),
    ).toEqual({ action: 'later', reason: 'a flash is still running on m1/nfp0' });
    // The card still runs the old flavour: nothing to restore.
    expect(resolveMachine(rec({ state: 'unknown', flashed: [] }), { ports: [port(false, false)], flashed: [] }, false)).toEqual({
      action: 'record-restored',
    });
  });

  it('a rollback left half-done is finished, even where the new chain runs committed', () => {
    expect(resolveMachine(rec({ state: 'rolling-back', loaded: ['m1/nfp0|nic-xdp-offload'] }), facts(port(true, false)), false)).toEqual({
      action: 'restore',
      loaded: ['m1/nfp0|nic-xdp-offload'],
      flashed: [],
    });
    expect(resolveMachine(rec({ state: 'rolling-back' }), facts(port(false, false)), true)).toEqual({ action: 'wait' });
  });

  it('nothing of this rollout on the agent: the old chain is in place, recorded as restored', () => {
    expect(resolveMachine(rec({ state: 'loading' }), facts(port(false, false)), false)).toEqual({ action: 'record-restored' });
    expect(resolveMachine(rec({ state: 'pending' }), facts(port(false, true)), false)).toEqual({ action: 'record-restored' });
  });
});
