import { badRequest, conflict, forbidden } from './maas-sim.errors';
import { STATUS, statusLabel } from './maas-sim.status';
import type { MaasSimStore, SimMachine } from './maas-sim.store';

export interface DeployOptions {
  distroSeries?: string;
  osystem?: string;
  userDataBase64?: string;
}

const DISTRO_SERIES = ['bionic', 'focal', 'jammy', 'noble'];
const RELEASABLE = new Set<number>([
  STATUS.ALLOCATED,
  STATUS.RESERVED,
  STATUS.BROKEN,
  STATUS.DEPLOYING,
  STATUS.DEPLOYED,
  STATUS.FAILED_DEPLOYMENT,
  STATUS.FAILED_RELEASING,
  STATUS.FAILED_DISK_ERASING,
  STATUS.FAILED_TESTING,
  STATUS.RESCUE_MODE,
]);
const COMMISSIONABLE = new Set<number>([STATUS.NEW, STATUS.READY, STATUS.BROKEN, STATUS.FAILED_COMMISSIONING, STATUS.FAILED_TESTING]);
const TESTABLE = new Set<number>([
  STATUS.NEW,
  STATUS.READY,
  STATUS.DEPLOYED,
  STATUS.BROKEN,
  STATUS.ALLOCATED,
  STATUS.FAILED_TESTING,
  STATUS.FAILED_COMMISSIONING,
]);
const RESCUABLE = new Set<number>([STATUS.READY, STATUS.DEPLOYED, STATUS.BROKEN, STATUS.FAILED_DEPLOYMENT, STATUS.ALLOCATED]);

/**
 * The MAAS node state machine for the operations ioplane and its operators use.
 * Every method returns nothing and throws MaasError; the handler re-renders the machine.
 */
/** What happens to a machine's installed software: the simulator starts and stops its agent on these. */
export interface LifecycleHooks {
  /** Deploying began: the machine's old OS (and its agent) is gone. */
  deploying?(m: SimMachine): void;
  /** Deployed: the OS booted and cloud-init ran `m.userData`. */
  deployed?(m: SimMachine): void;
  released?(m: SimMachine): void;
}

export const DEFAULT_DEPLOY_ERROR = 'Installation failed (refer to the installation log for more information).';

export class MachineLifecycle {
  /** Deployments told to fail, per machine, in order: each entry is the error MAAS reports. */
  private readonly failures = new Map<string, string[]>();

  constructor(
    private readonly store: MaasSimStore,
    private readonly deployFailureRate: () => number,
    private readonly hooks: LifecycleHooks = {},
  ) {}

  /** Makes the next deployment of this machine end in Failed deployment with `reason` (tests, demos). */
  failNextDeployment(systemId: string, reason = DEFAULT_DEPLOY_ERROR): void {
    this.store.get(systemId);
    this.failures.set(systemId, [...(this.failures.get(systemId) ?? []), reason]);
  }

  private get timings() {
    return this.store.model.timings;
  }

  private editable(m: SimMachine): void {
    if (m.locked) throw forbidden(`Machine ${m.hostname} (${m.systemId}) is locked; unlock it first.`);
  }

  acquire(m: SimMachine, user: string, comment?: string): void {
    if (m.status !== STATUS.READY) throw conflict(`Can't allocate a machine that is in the '${statusLabel(m.status)}' state.`);
    if (m.owner !== null && m.owner !== user) throw conflict("Can't allocate a machine belonging to another user.");
    m.owner = user;
    this.store.record(m, 'AUDIT', 'Node', `Acquired '${m.hostname}'.${comment ? ` ${comment}` : ''}`, user);
    this.store.setStatus(m, STATUS.ALLOCATED, user);
  }

  deploy(m: SimMachine, user: string, opts: DeployOptions): void {
    this.editable(m);
    if (
      opts.distroSeries !== undefined &&
      opts.distroSeries !== '' &&
      !DISTRO_SERIES.includes(opts.distroSeries.replace(/^ubuntu\//, ''))
    ) {
      throw badRequest({
        distro_series: [
          `'${opts.distroSeries}' is not a valid distro_series.  It should be one of: ${DISTRO_SERIES.map((s) => `'ubuntu/${s}'`).join(', ')}.`,
        ],
      });
    }
    let userData: string | null = null;
    if (opts.userDataBase64 !== undefined && opts.userDataBase64 !== '') {
      const clean = opts.userDataBase64.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0)
        throw badRequest({ user_data: ['Enter valid base64-encoded data.'] });
      userData = Buffer.from(clean, 'base64').toString('utf8');
    }
    if (m.status === STATUS.READY) this.acquire(m, user);
    if (m.status !== STATUS.ALLOCATED) throw conflict(`Can't deploy a machine that is in the '${statusLabel(m.status)}' state.`);
    if (m.owner !== user) throw forbidden(`Machine ${m.hostname} is allocated to another user.`);
    m.osystem = opts.osystem || 'ubuntu';
    m.distroSeries = (opts.distroSeries || m.model.distroSeries).replace(/^ubuntu\//, '');
    m.userData = userData;
    m.errorDescription = '';
    this.store.record(m, 'AUDIT', 'Node', `Started deploying '${m.hostname}'.`, user);
    this.store.setStatus(m, STATUS.DEPLOYING, user);
    this.store.record(m, 'INFO', 'Deploying', '', user);
    this.hooks.deploying?.(m);
    m.powerState = 'on';
    this.store.record(m, 'INFO', 'Powering on', '', user);
    const injected = this.failures.get(m.systemId)?.shift();
    const failure = injected ?? (Math.random() < this.deployFailureRate() ? DEFAULT_DEPLOY_ERROR : null);
    this.store.schedule(m, this.timings.deploy, [
      [0.1, () => this.store.record(m, 'INFO', 'Performing PXE boot', '')],
      [0.25, () => this.store.record(m, 'INFO', 'Loading ephemeral', '')],
      [0.4, () => this.store.record(m, 'INFO', 'Configuring OS', '')],
      [0.6, () => this.store.record(m, 'INFO', 'Installing OS', '')],
      [0.85, () => this.store.record(m, 'INFO', 'Rebooting', '')],
      [1, () => (failure !== null ? this.failDeployment(m, failure) : this.finishDeployment(m))],
    ]);
  }

  private finishDeployment(m: SimMachine): void {
    this.store.setStatus(m, STATUS.DEPLOYED);
    this.store.record(m, 'INFO', 'Deployed', '');
    this.hooks.deployed?.(m);
  }

  private failDeployment(m: SimMachine, reason: string): void {
    m.errorDescription = reason;
    this.store.setStatus(m, STATUS.FAILED_DEPLOYMENT);
    this.store.record(m, 'ERROR', 'Failed deployment', m.errorDescription);
  }

  release(m: SimMachine, user: string, opts: { erase?: boolean; comment?: string }): void {
    this.editable(m);
    if (m.status === STATUS.READY || m.status === STATUS.RELEASING || m.status === STATUS.DISK_ERASING) return;
    if (!RELEASABLE.has(m.status)) throw conflict(`Machine cannot be released in its current state ('${statusLabel(m.status)}').`);
    if (opts.erase && m.model.isDpu) throw badRequest('Disk erasing is not supported on a DPU.');
    this.store.cancel(m);
    this.store.record(m, 'AUDIT', 'Node', `Released '${m.hostname}'.${opts.comment ? ` ${opts.comment}` : ''}`, user);
    m.annotations = {};
    m.owner = null;
    m.userData = null;
    this.hooks.released?.(m);
    const wasOn = m.powerState === 'on';
    if (!wasOn && !opts.erase) {
      this.toReady(m, user);
      return;
    }
    this.store.setStatus(m, STATUS.RELEASING, user);
    this.store.record(m, 'INFO', 'Releasing', '', user);
    if (wasOn) this.store.record(m, 'INFO', 'Powering off', '', user);
    this.store.schedule(m, this.timings.release, [
      [
        1,
        () => {
          m.powerState = 'off';
          if (!opts.erase) return this.toReady(m);
          this.store.setStatus(m, STATUS.DISK_ERASING);
          this.store.record(m, 'INFO', 'Disk erasing', '');
          this.store.schedule(m, this.timings.diskErase, [[1, () => this.toReady(m)]]);
        },
      ],
    ]);
  }

  private toReady(m: SimMachine, user?: string): void {
    m.osystem = '';
    m.distroSeries = '';
    m.powerState = 'off';
    this.store.setStatus(m, STATUS.READY, user);
    this.store.record(m, 'INFO', 'Released', '', user);
  }

  commission(m: SimMachine, user: string, scripts: string[]): void {
    this.editable(m);
    if (!COMMISSIONABLE.has(m.status)) throw conflict(`Cannot commission node because node is in the '${statusLabel(m.status)}' state.`);
    m.previousStatus = m.status;
    m.lastScripts = scripts;
    this.store.record(m, 'AUDIT', 'Node', `Started commissioning on '${m.hostname}'.`, user);
    this.store.setStatus(m, STATUS.COMMISSIONING, user);
    this.store.record(m, 'INFO', 'Commissioning', '', user);
    m.powerState = 'on';
    this.store.schedule(m, this.timings.commission, [
      [
        0.7,
        () => {
          this.store.setStatus(m, STATUS.TESTING);
          this.store.record(m, 'INFO', 'Testing', '');
        },
      ],
      [
        1,
        () => {
          m.powerState = 'off';
          m.errorDescription = '';
          this.store.setStatus(m, STATUS.READY);
          this.store.record(m, 'INFO', 'Ready', '');
        },
      ],
    ]);
  }

  test(m: SimMachine, user: string, scripts: string[]): void {
    this.editable(m);
    if (!TESTABLE.has(m.status)) throw conflict(`Cannot test node because node is in the '${statusLabel(m.status)}' state.`);
    const back = m.status === STATUS.FAILED_TESTING || m.status === STATUS.FAILED_COMMISSIONING ? STATUS.READY : m.status;
    m.previousStatus = back;
    m.lastScripts = scripts;
    this.store.record(m, 'AUDIT', 'Node', `Started testing on '${m.hostname}'.`, user);
    this.store.setStatus(m, STATUS.TESTING, user);
    this.store.record(m, 'INFO', 'Testing', '', user);
    this.store.schedule(m, this.timings.test, [
      [
        1,
        () => {
          this.store.setStatus(m, back);
          this.store.record(m, 'INFO', 'Testing complete', '');
        },
      ],
    ]);
  }

  abort(m: SimMachine, user: string): void {
    this.editable(m);
    const target = ((): number | null => {
      switch (m.status) {
        case STATUS.DEPLOYING:
          return STATUS.ALLOCATED;
        case STATUS.COMMISSIONING:
        case STATUS.TESTING:
        case STATUS.ENTERING_RESCUE_MODE:
          return m.previousStatus;
        case STATUS.DISK_ERASING:
          return STATUS.FAILED_DISK_ERASING;
        default:
          return null;
      }
    })();
    if (target === null) throw conflict(`Cannot abort in current state: '${statusLabel(m.status)}'.`);
    this.store.cancel(m);
    this.store.record(m, 'AUDIT', 'Node', `Aborted '${statusLabel(m.status).toLowerCase()}' on '${m.hostname}'.`, user);
    m.powerState = 'off';
    this.store.setStatus(m, target, user);
    this.store.record(m, 'INFO', 'Aborted', '', user);
  }

  lock(m: SimMachine, user: string): void {
    if (m.locked) throw conflict('Machine is already locked');
    if (m.status !== STATUS.DEPLOYED && m.status !== STATUS.DEPLOYING) throw conflict('Can only lock deployed machines');
    m.locked = true;
    this.store.record(m, 'AUDIT', 'Node', `Locked '${m.hostname}'.`, user);
  }

  unlock(m: SimMachine, user: string): void {
    if (!m.locked) throw conflict('Machine is not locked');
    m.locked = false;
    this.store.record(m, 'AUDIT', 'Node', `Unlocked '${m.hostname}'.`, user);
  }

  /** Any key=value; an empty value deletes the key. Only the owner may annotate. */
  setAnnotations(m: SimMachine, user: string, values: Array<[string, string]>): void {
    this.editable(m);
    if (m.owner === null) throw conflict(`Cannot set workload annotations: machine ${m.hostname} is not allocated.`);
    if (m.owner !== user) throw conflict(`Cannot set workload annotations: machine ${m.hostname} is owned by another user.`);
    for (const [k, v] of values) {
      if (v === '') delete m.annotations[k];
      else m.annotations[k] = v;
    }
  }

  powerOn(m: SimMachine, user: string): void {
    this.editable(m);
    this.store.record(m, 'AUDIT', 'Node', `Powered on '${m.hostname}'.`, user);
    this.store.record(m, 'INFO', 'Powering on', '', user);
    m.powerState = 'on';
  }

  /** A DPU cannot be powered off: MAAS turns the request into a reset. */
  powerOff(m: SimMachine, user: string): void {
    this.editable(m);
    this.store.record(m, 'AUDIT', 'Node', `Powered off '${m.hostname}'.`, user);
    if (m.model.isDpu) {
      this.store.record(m, 'INFO', 'Rebooting', 'DPU power off is a reset', user);
      m.powerState = 'on';
      return;
    }
    this.store.record(m, 'INFO', 'Powering off', '', user);
    m.powerState = 'off';
  }

  markBroken(m: SimMachine, user: string, comment: string): void {
    this.editable(m);
    if (m.status === STATUS.BROKEN) throw conflict(`Machine ${m.hostname} is already marked broken.`);
    this.store.cancel(m);
    m.previousStatus = m.status;
    m.errorDescription = comment;
    this.store.record(m, 'AUDIT', 'Node', `Marked '${m.hostname}' broken.${comment ? ` ${comment}` : ''}`, user);
    this.store.setStatus(m, STATUS.BROKEN, user);
    this.store.record(m, 'INFO', 'Marking node broken', comment, user);
  }

  markFixed(m: SimMachine, user: string): void {
    this.editable(m);
    if (m.status !== STATUS.BROKEN) throw conflict(`Can't mark a non-broken machine as 'Ready'.`);
    m.errorDescription = '';
    const back = m.previousStatus === STATUS.DEPLOYED && m.owner !== null ? STATUS.DEPLOYED : STATUS.READY;
    if (back === STATUS.READY) m.owner = null;
    this.store.record(m, 'AUDIT', 'Node', `Marked '${m.hostname}' fixed.`, user);
    this.store.setStatus(m, back, user);
    this.store.record(m, 'INFO', 'Marking node fixed', '', user);
  }

  rescueMode(m: SimMachine, user: string): void {
    this.editable(m);
    if (!RESCUABLE.has(m.status)) throw conflict(`Cannot enter rescue mode from the '${statusLabel(m.status)}' state.`);
    m.previousStatus = m.status;
    this.store.setStatus(m, STATUS.ENTERING_RESCUE_MODE, user);
    m.powerState = 'on';
    this.store.schedule(m, this.timings.rescue, [[1, () => this.store.setStatus(m, STATUS.RESCUE_MODE)]]);
  }

  exitRescueMode(m: SimMachine, user: string): void {
    this.editable(m);
    if (m.status !== STATUS.RESCUE_MODE && m.status !== STATUS.ENTERING_RESCUE_MODE) {
      throw conflict(`Cannot exit rescue mode from the '${statusLabel(m.status)}' state.`);
    }
    const back = m.previousStatus;
    this.store.setStatus(m, STATUS.EXITING_RESCUE_MODE, user);
    this.store.schedule(m, this.timings.rescue, [
      [
        1,
        () => {
          if (back !== STATUS.DEPLOYED) m.powerState = 'off';
          this.store.setStatus(m, back);
        },
      ],
    ]);
  }
}
