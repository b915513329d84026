import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { buildModule } from '@ioplane/compiler';
import { describeKernel } from '@ioplane/compiler/testing';
import { AgentClient, generateSigningKeys, signedLoadBody } from '@ioplane/agent-api';
import { bareNic } from '@ioplane/domain';
import { bpffsRoot, hostInterfaces } from '@ioplane/devices';
import { udpCounterSource } from './udp-traffic.fixture';
import { run } from '../packaging/package.process';

/**
 * The packages as an operator gets them: `npm run package` from this checkout (both packages,
 * lintian must find no error), then the agent package installed with dpkg into a throwaway root,
 * its unit verified by systemd against that root, and its single executable started from there.
 */
const outDir = `/tmp/ioplane-packages-${process.pid}`;
const root = `/tmp/ioplane-pkgroot-${process.pid}`;
let agentDeb = '';
let controllerDeb = '';
let buildLog = '';
const children: ChildProcess[] = [];

/**
 * A minimal system in `dir` for `dpkg --root`: a dpkg database, and a POSIX shell with its
 * libraries, so dpkg runs the maintainer scripts chrooted there (not on this host).
 */
async function freshRoot(dir: string): Promise<void> {
  await fsp.mkdir(join(dir, 'var/lib/dpkg/info'), { recursive: true });
  await fsp.mkdir(join(dir, 'var/lib/dpkg/updates'), { recursive: true });
  await fsp.writeFile(join(dir, 'var/lib/dpkg/status'), '');
  const libs = (await run('ldd', ['/bin/dash']))
    .split('\n')
    .map((l) => /(\/\S+) \(0x/.exec(l)?.[1])
    .filter((l): l is string => !!l);
  for (const f of ['/bin/dash', ...libs]) {
    await fsp.mkdir(join(dir, f, '..'), { recursive: true });
    await fsp.copyFile(f, join(dir, f));
    await fsp.chmod(join(dir, f), 0o755);
  }
  await fsp.symlink('dash', join(dir, 'bin/sh'));
  // The base system's targets and slices, which the unit's default dependencies name.
  await fsp.mkdir(join(dir, 'lib/systemd/system'), { recursive: true });
  for (const f of await fsp.readdir('/lib/systemd/system')) {
    if (/\.(target|slice)$/.test(f))
      await fsp.cp(join('/lib/systemd/system', f), join(dir, 'lib/systemd/system', f), { dereference: true });
  }
}

/** Installs as on a machine (files, conffiles, maintainer scripts chrooted into `dir`); the dependencies are this host's business. */
function dpkgInstall(dir: string, deb: string, how: '--install' | '--unpack' = '--install'): Promise<string> {
  return run('dpkg', ['--root', dir, '--force-depends', how, deb]);
}

/** Starts the installed executable with an env file; resolves with its URL from the "agent listening" line. */
export function startPackagedAgent(
  exe: string,
  envFile: string,
  extraEnv: Record<string, string> = {},
  prefix: string[] = [],
): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, [...prefix, '--env-file', envFile], {
      env: { PATH: process.env.PATH, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    const timer = setTimeout(() => reject(new Error(`agent did not start in 60 s:\n${out}`)), 60_000);
    const onData = (c: Buffer) => {
      out += c;
      const m = /"url":"(http:\/\/[^"]+)".*"msg":"agent listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited ${code}:\n${out}`));
    });
  });
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

beforeAll(async () => {
  await fsp.rm(outDir, { recursive: true, force: true });
  buildLog = await run(process.execPath, ['-r', '@swc-node/register', 'packaging/build.ts', '--out', outDir]);
  const debs = await fsp.readdir(outDir);
  agentDeb = join(
    outDir,
    debs.find((d) => /^ioplane-agent_[^_]+_[a-z0-9]+\.deb$/.test(d))!,
  );
  controllerDeb = join(
    outDir,
    debs.find((d) => /^ioplane_[^_]+_[a-z0-9]+\.deb$/.test(d))!,
  );
}, 30 * 60_000);

afterAll(async () => {
  for (const c of children) await stopChild(c);
  await fsp.rm(outDir, { recursive: true, force: true });
  await fsp.rm(root, { recursive: true, force: true });
});

describe('npm run package', () => {
  it('builds both packages; lintian reports no errors', () => {
    expect(existsSync(agentDeb)).toBe(true);
    expect(existsSync(controllerDeb)).toBe(true);
    expect(buildLog.match(/lintian: 0 error\(s\)/g)).toHaveLength(2);
    expect(buildLog).not.toMatch(/^\s*E: /m);
  });

  it('the agent package holds the single executable, the hardened unit and its settings file, and declares its dependencies', async () => {
    const info = await run('dpkg-deb', ['--info', agentDeb]);
    for (const dep of ['iproute2', 'bpftool', 'libbpf1', 'ethtool', 'libc6']) expect(info).toMatch(new RegExp(`Depends:.*\\b${dep}\\b`));
    expect(info).toMatch(/conffiles/);
    const contents = await run('dpkg-deb', ['--contents', agentDeb]);
    expect(contents).toMatch(/^-rwxr-xr-x root\/root .* \.\/usr\/lib\/ioplane-agent\/ioplane-agent$/m);
    expect(contents).toMatch(/^-rw------- root\/root .* \.\/etc\/ioplane\/agent\.env$/m);
    expect(contents).toMatch(/\.\/lib\/systemd\/system\/ioplane-agent\.service$/m);
  });

  it('the controller package holds the API and worker units, its config and the agent package it serves', async () => {
    const info = await run('dpkg-deb', ['--info', controllerDeb]);
    expect(info).toMatch(/Depends:.*\bredis-server\b/);
    const contents = await run('dpkg-deb', ['--contents', controllerDeb]);
    for (const f of [
      'lib/systemd/system/ioplane-api.service',
      'lib/systemd/system/ioplane-worker.service',
      'etc/ioplane/ioplane.env',
      'usr/lib/ioplane/bin/node',
      'usr/bin/ioplane',
      'usr/lib/ioplane/apps/api/src/main.js',
    ]) {
      expect(contents).toContain(`./${f}`);
    }
    expect(contents).toMatch(/\.\/usr\/share\/ioplane\/agent\/ioplane-agent_[^_]+_[a-z0-9]+\.deb$/m);
    const conf = await run('dpkg-deb', ['--ctrl-tarfile', controllerDeb]);
    expect(conf).toContain('conffiles');
  });
});

describe('the agent package installed into a throwaway root', () => {
  const token = randomBytes(24).toString('hex');
  const agentId = `pkg-${randomBytes(3).toString('hex')}`;
  let url = '';

  beforeAll(async () => {
    await fsp.rm(root, { recursive: true, force: true });
    await freshRoot(root);
    await dpkgInstall(root, agentDeb);
    // The controller's postinst creates its system user with adduser, which this bare root lacks: unpacked only.
    await dpkgInstall(root, controllerDeb, '--unpack');
  }, 120_000);

  it('dpkg knows both packages and their conffiles', async () => {
    const status = await fsp.readFile(join(root, 'var/lib/dpkg/status'), 'utf8');
    expect(status).toMatch(/Package: ioplane-agent\nStatus: install ok installed/);
    expect(status).toMatch(/Package: ioplane\nStatus: install ok unpacked/);
    expect(status).toMatch(/Conffiles:\n \/etc\/ioplane\/agent\.env [0-9a-f]{32}/);
  });

  it('every unit passes systemd-analyze verify against that root', async () => {
    for (const unit of ['ioplane-agent.service', 'ioplane-api.service', 'ioplane-worker.service']) {
      const out = await run('systemd-analyze', ['verify', `--root=${root}`, unit]);
      expect(out.trim()).toBe('');
    }
    const text = await fsp.readFile(join(root, 'lib/systemd/system/ioplane-agent.service'), 'utf8');
    expect(text).toMatch(/^ProtectSystem=strict$/m);
    expect(text).toMatch(/^CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_PERFMON CAP_SYS_ADMIN$/m);
    expect(text).toMatch(/^EnvironmentFile=\/etc\/ioplane\/agent\.env$/m);
    // A unit naming a missing executable fails the same check: the check is not vacuous.
    const broken = join(root, 'lib/systemd/system/ioplane-broken.service');
    await fsp.writeFile(broken, text.replace('/usr/lib/ioplane-agent/ioplane-agent', '/usr/lib/ioplane-agent/missing'));
    await expect(run('systemd-analyze', ['verify', `--root=${root}`, 'ioplane-broken.service'])).rejects.toThrow(/missing/);
    await fsp.rm(broken);
  });

  it('the installed executable starts from agent.env, answers /v1/health with its token and refuses without it', async () => {
    const keys = generateSigningKeys();
    await fsp.writeFile(join(root, 'etc/ioplane/controller.pub'), keys.publicKeyPem);
    const envFile = join(root, 'etc/ioplane/agent.env');
    // As cloud-init writes it on a deployed machine, with paths inside the throwaway root.
    const shipped = await fsp.readFile(envFile, 'utf8');
    await fsp.writeFile(
      envFile,
      `${shipped}\nAGENT_ID=${agentId}\nAGENT_TOKEN=${token}\nAGENT_PUBLIC_KEY=${join(root, 'etc/ioplane/controller.pub')}\nAGENT_HOST=127.0.0.1\nAGENT_PORT=0\nAGENT_KERNEL=off\nAGENT_STATE_DIR=${join(root, 'var/lib/ioplane-agent')}\n`,
      { mode: 0o600 },
    );
    const started = await startPackagedAgent(join(root, 'usr/lib/ioplane-agent/ioplane-agent'), envFile);
    url = started.url;
    const health = await fetch(`${url}/v1/health`, { headers: { authorization: `Bearer ${token}` } });
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, agentId, mode: 'emulated' });
    const none = await fetch(`${url}/v1/health`);
    expect(none.status).toBe(401);
    const wrong = await fetch(`${url}/v1/health`, { headers: { authorization: `Bearer ${randomBytes(24).toString('hex')}` } });
    expect(wrong.status).toBe(401);
    const inv = await new AgentClient(url, token).inventory();
    // Without the MAAS machine the agent lists the host's own ports, one card each: no "cpu" device.
    const ports = (await hostInterfaces(null)).filter((i) => i.busInfo || i.kind === 'bond').map((i) => `${agentId}/${i.name}`);
    expect(inv.devices.map((d) => d.device.id)).toEqual(ports);
    for (const d of inv.devices) expect(d.device).toMatchObject({ kind: 'nic', interfaces: [d.device.name] });
    await stopChild(started.child);
    expect(started.child.exitCode).toBe(0);
  }, 120_000);
});

/** UDP from `netns` to `address` until `stop` resolves; resolves with the datagrams the socket accepted. */
function trafficUntil(netns: string, address: string, stop: Promise<unknown>): Promise<number> {
  const script = `const d=require('dgram').createSocket('udp4');const b=Buffer.alloc(32);let sent=0,inflight=0,done=false;
process.stdin.on('data',()=>{done=true});
(function go(){if(done){const t=setInterval(()=>{if(inflight===0){clearInterval(t);console.log(sent);d.close();process.exit(0)}},10);return}
for(let k=0;k<20;k++){inflight++;d.send(b,9999,'${address}',(e)=>{inflight--;if(!e)sent++})}setTimeout(go,2)})();`;
  const p = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(p);
  void stop.finally(() => p.stdin!.write('stop\n'));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    p.stdout!.on('data', (c) => (out += c));
    p.stderr!.on('data', (c) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`sender exit ${code}: ${err}`))));
  });
}

describeKernel('upgrading the packaged agent in place', (itKernel) => {
  const token = randomBytes(24).toString('hex');
  const tag = randomBytes(3).toString('hex');
  const agentId = `pkgk-${tag}`;
  const keys = generateSigningKeys();
  const upRoot = `/tmp/ioplane-pkgup-${process.pid}`;
  // The agent acts on the interfaces of the namespace it runs in: it gets a namespace of its own
  // with one port (a veth whose peer sends the traffic) and a control link to this namespace.
  const host = `iopk-${tag}`;
  const wire = `iopk-${tag}-w`;
  const control = `iopkc-${tag}`;
  const net = 1 + (parseInt(tag, 16) % 250);
  const ip = (...args: string[]) => run('ip', args);

  afterAll(async () => {
    // Only what this test made: its namespaces (which take their veths along), bpffs folder and root.
    await ip('netns', 'del', host).catch(() => undefined);
    await ip('netns', 'del', wire).catch(() => undefined);
    await ip('link', 'del', control).catch(() => undefined);
    await fsp.rm(bpffsRoot(agentId), { recursive: true, force: true });
    await fsp.rm(upRoot, { recursive: true, force: true });
  });

  itKernel(
    'keeps the datapath: pinned programs run on while the agent stops, is upgraded by dpkg and starts again',
    async () => {
      await ip('netns', 'add', host);
      await ip('netns', 'add', wire);
      await ip('-n', host, 'link', 'add', 'port0', 'type', 'veth', 'peer', 'name', 'port0w', 'netns', wire);
      await ip('-n', host, 'addr', 'add', `10.213.${net}.1/30`, 'dev', 'port0');
      await ip('-n', wire, 'addr', 'add', `10.213.${net}.2/30`, 'dev', 'port0w');
      await ip('link', 'add', control, 'type', 'veth', 'peer', 'name', 'ctl0', 'netns', host);
      await ip('addr', 'add', `10.214.${net}.1/30`, 'dev', control);
      await ip('-n', host, 'addr', 'add', `10.214.${net}.2/30`, 'dev', 'ctl0');
      for (const [ns, dev] of [
        [host, 'port0'],
        [host, 'ctl0'],
        [host, 'lo'],
        [wire, 'port0w'],
        [wire, 'lo'],
      ])
        await ip('-n', ns, 'link', 'set', dev, 'up');
      await ip('link', 'set', control, 'up');

      await fsp.rm(upRoot, { recursive: true, force: true });
      await freshRoot(upRoot);
      await dpkgInstall(upRoot, agentDeb);
      await fsp.writeFile(join(upRoot, 'etc/ioplane/controller.pub'), keys.publicKeyPem);
      const machine = join(upRoot, 'etc/ioplane/machine.json');
      await fsp.writeFile(
        machine,
        JSON.stringify({
          systemId: agentId,
          hostname: agentId,
          devices: [bareNic(agentId, 'eth0', ['port0'])],
        }),
      );
      const envFile = join(upRoot, 'etc/ioplane/agent.env');
      await fsp.appendFile(
        envFile,
        `\nAGENT_ID=${agentId}\nAGENT_TOKEN=${token}\nAGENT_PUBLIC_KEY=${join(upRoot, 'etc/ioplane/controller.pub')}\nAGENT_HOST=10.214.${net}.2\nAGENT_PORT=0\nAGENT_MACHINE=${machine}\nAGENT_STATE_DIR=${join(upRoot, 'var/lib/ioplane-agent')}\n`,
      );
      const exe = join(upRoot, 'usr/lib/ioplane-agent/ioplane-agent');
      // nsenter switches only the network namespace: unlike `ip netns exec`, which mounts a sysfs of its
      // own, the agent sees the host's /sys/fs/bpf, where its pins must outlive it.
      const startInHost = () => startPackagedAgent('nsenter', envFile, {}, [`--net=/run/netns/${host}`, exe]);
      const work = join(upRoot, 'build');
      await fsp.mkdir(work, { recursive: true });
      await fsp.writeFile(join(work, 'prog.c'), udpCounterSource());
      const object = await fsp.readFile(
        (await buildModule({ name: 'udp-counter', dir: work, sources: ['prog.c'] }, { cacheDir: join(work, 'cache') })).objectPath,
      );

      const first = await startInHost();
      let client = new AgentClient(first.url, token);
      expect((await client.health()).mode).toBe('kernel');
      const device = `${agentId}/eth0`;
      const loaded = await client.load(
        device,
        signedLoadBody(
          'host-xdp-native',
          [{ name: 'udp-counter', version: '1.0.0', program: 'udp_counter', object, persistentMaps: ['hits'] }],
          keys.privateKeyPem,
        ),
      );
      expect(loaded.status).toBe('loaded');
      expect((await client.commit(device)).status).toBe('committed');

      // Traffic runs across the whole upgrade: stop the agent, dpkg upgrades it in place, start it again.
      let upgraded!: () => void;
      const done = new Promise<void>((r) => (upgraded = r));
      const traffic = trafficUntil(wire, `10.213.${net}.1`, done);
      await new Promise((r) => setTimeout(r, 300));
      await stopChild(first.child);
      const upgrade = await dpkgInstall(upRoot, agentDeb);
      expect(upgrade).toMatch(/Unpacking ioplane-agent \(.+\) over \(.+\)/);
      // dpkg kept the settings cloud-init (here: this test) wrote over the shipped conffile.
      expect(await fsp.readFile(envFile, 'utf8')).toContain(`AGENT_ID=${agentId}`);
      const second = await startInHost();
      await new Promise((r) => setTimeout(r, 300));
      upgraded();
      const sent = await traffic;
      expect(sent).toBeGreaterThan(100);

      client = new AgentClient(second.url, token);
      const after = (await client.programs()).devices[0].ports[0].current!;
      expect(after).toMatchObject({ chainDigest: loaded.current.chainDigest, rootProgId: loaded.current.rootProgId, rediscovered: true });
      // Every datagram sent while the agent was down, being replaced and starting was counted by the program.
      expect((await client.counters(device)).modules[0].maps?.hits).toBe(sent);
      expect((await client.detach(device)).status).toBe('detached');
      await stopChild(second.child);
    },
    300_000,
  );
});
