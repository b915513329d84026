import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { parse, stringify } from 'yaml';
import { ROLLOUT_REPOSITORY } from '@ioplane/composition';
import { breakdownWords, type CostBreakdown } from '@ioplane/placement';
import type { RolloutRepository } from '@ioplane/state';
import { acceptingNotRun, Harness, http, runCli, startHarness, syncFleet, waitStatus } from './harness';

const CHROMIUM = process.env.IOPLANE_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = 'test/artifacts/fleet-map.png';
// As root in a closed network: no sandbox, and none of Chromium's calls home.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const EXAMPLE = acceptingNotRun(parse(readFileSync('placements/example.yaml', 'utf8')));
const HOLD = 'fleet-map-test';

type BrowserIt = (name: string, body: (page: Page) => Promise<unknown>, timeoutMs?: number) => void;

/**
 * `describe` for specs that drive a real browser. Without Chromium each `it` passes with a loud
 * `SKIP browser` notice, unless IOPLANE_REQUIRE_BROWSER=1 (CI), where each fails with the reason.
 * A Chromium that is there but does not start is a failure either way.
 */
function describeBrowser(name: string, fn: (itBrowser: BrowserIt, harness: () => Harness) => void): void {
  describe(name, () => {
    let h: Harness;
    let page: Page | null = null;
    let profileDir: string | null = null;
    let closeBrowser: (() => Promise<void>) | null = null;
    const missing = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set IOPLANE_CHROMIUM)`;

    beforeAll(async () => {
      h = await startHarness();
      await syncFleet(h);
      if (missing) return;
      const { chromium } = await import('playwright-core');
      // Playwright refuses --user-data-dir in launch(); a persistent context on a fresh directory is the same thing.
      profileDir = mkdtempSync(join(tmpdir(), 'ioplane-chromium-'));
      const context = await chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1600, height: 1100 },
      });
      closeBrowser = () => context.close();
      page = context.pages()[0] ?? (await context.newPage());
    }, 90_000);

    afterAll(async () => {
      await closeBrowser?.();
      if (profileDir) rmSync(profileDir, { recursive: true, force: true });
      await h?.stop();
    });

    const itBrowser: BrowserIt = (testName, body, timeoutMs) =>
      it(
        testName,
        async () => {
          if (missing) {
            if (process.env.IOPLANE_REQUIRE_BROWSER === '1')
              throw new Error(`browser required (IOPLANE_REQUIRE_BROWSER=1) but unavailable: ${missing}`);
            console.warn(`\n*** SKIP browser: ${missing} ***\n*** the fleet map was NOT tested in a browser ***\n`);
            return;
          }
          await body(page!);
        },
        timeoutMs ?? 60_000,
      );
    fn(itBrowser, () => h);
  });
}

type Tile = { systemId: string; hostname: string; zone: string; state: string; badges: number };

/** Polls the page's tiles until `ready` holds; after `ms` fails with what the page shows. */
async function waitTiles(page: Page, ready: (ts: Tile[]) => boolean, ms = 45_000): Promise<Tile[]> {
  const end = Date.now() + ms;
  for (;;) {
    const ts = await tiles(page);
    if (ready(ts)) return ts;
    if (Date.now() > end) throw new Error(`tiles never got there: ${ts.map((t) => `${t.hostname}=${t.state}`).join(' ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function tiles(page: Page): Promise<Tile[]> {
  return page.$$eval('[data-testid=machine-tile]', (els) =>
    els.map((e) => ({
      systemId: e.getAttribute('data-system-id')!,
      hostname: e.getAttribute('data-hostname')!,
      zone: e.closest('[data-testid=zone]')!.getAttribute('data-zone')!,
      state: e.getAttribute('data-state')!,
      badges: e.querySelectorAll('[data-testid=module-badge]').length,
    })),
  );
}

describeBrowser('fleet map in a real browser against the running stack', (itBrowser, harness) => {
  const pageErrors: string[] = [];

  it('serves the page with its content types and a strict CSP', async () => {
    const h = harness();
    const index = await fetch(h.apiUrl + '/');
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('content-security-policy')).toMatch(/default-src 'none'.*script-src 'self'/);
    expect((await fetch(h.apiUrl + '/ui/fleet-map.js')).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(h.apiUrl + '/ui/fleet-map.css')).headers.get('content-type')).toMatch(/^text\/css/);
    expect((await fetch(h.apiUrl + '/ui/..%2Fapi.module.ts')).status).toBe(404);
  });

  itBrowser('shows one tile per host of the demo fleet, grouped under its zone, none placed yet', async (page) => {
    const h = harness();
    // CSP violations and script errors surface as console errors; any one fails the later checks.
    // Failed requests are checked by status instead; 401s are expected until the token is pasted (no tiles without it).
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && pageErrors.push(m.text()));
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('response', (r) => r.status() >= 400 && r.status() !== 401 && pageErrors.push(`${r.status()} ${r.url()}`));
    page.on('dialog', (d) => void d.accept());
    // Reads need a viewer token: the page says so, and works once one is pasted in.
    await page.goto(h.apiUrl + '/');
    await page.waitForSelector('[data-testid=status][data-state=error]:has-text("HTTP 401")');
    await page.fill('[data-testid=token-input]', h.token);
    await page.click('[data-testid=token-save]');
    const hosts = h.sim.model.hosts;
    // Every host of the inventory: deployed and ready ones, and the allocated one too (MAAS lists it, so the map does).
    const seen = await waitTiles(page, (ts) => ts.length === hosts.length);
    const byZone = (xs: { zone: string; hostname: string }[]) =>
      Object.fromEntries(
        [...new Set(xs.map((x) => x.zone))].sort().map((z) => [
          z,
          xs
            .filter((x) => x.zone === z)
            .map((x) => x.hostname)
            .sort(),
        ]),
      );
    expect(byZone(seen)).toEqual(byZone(hosts));
    expect(Object.keys(byZone(seen))).toEqual(['zone-a', 'zone-b', 'zone-c']);
    expect(new Set(seen.map((t) => t.systemId))).toEqual(new Set(hosts.map((m) => m.systemId)));
    expect(seen.every((t) => t.state === 'none' && t.badges === 0)).toBe(true);
    // Devices come with their profile, or say plainly that they have none.
    const a09 = hosts.find((m) => m.hostname === 'edge-a09')!;
    expect(await page.locator(`[data-system-id="${a09.systemId}"] [data-testid=device][data-kind=nic]`).getAttribute('data-profile')).toBe(
      'unprofiled',
    );
    await page.waitForSelector('[data-testid=rebalance]:has-text("No pending proposals.")');
    expect(pageErrors).toEqual([]);
  });

  itBrowser(
    'follows a placement submitted from the CLI until its machines are committed',
    async (page) => {
      const h = harness();
      // The example as a file, accepting not-run: the harness's agents have no kernel.
      const dir = mkdtempSync(join(tmpdir(), 'ioplane-fleetmap-'));
      const file = join(dir, 'example.yaml');
      writeFileSync(file, stringify(EXAMPLE));
      const cli = await runCli(['--api', h.apiUrl, 'submit', '-f', file]).finally(() => rmSync(dir, { recursive: true, force: true }));
      expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
      const id = /pl-[a-z0-9-]+/.exec(cli.stdout)![0];

      // The page picks it up on its own: a row with its status and the rollout's waves.
      await page.waitForSelector(`[data-testid=placement-row][data-placement-id="${id}"]`);
      await page.waitForSelector(`[data-testid=rollout-head][data-placement-id="${id}"]`);
      const done = await waitStatus(h, id, ['completed', 'failed', 'infeasible', 'cancelled']);
      expect(done.status).toBe('completed');
      const placed: string[] = done.rollout.machines.map((m: { systemId: string }) => m.systemId);
      expect(placed.length).toBeGreaterThan(10);

      const seen = await waitTiles(page, (ts) => placed.every((s) => ts.find((t) => t.systemId === s)?.state === 'committed'));
      await page.waitForSelector(`[data-testid=placement-row][data-placement-id="${id}"][data-status=completed]`);
      for (const t of seen) {
        const expected = placed.includes(t.systemId) ? { state: 'committed', badges: 3 } : { state: 'none', badges: 0 };
        expect({ host: t.hostname, state: t.state, badges: t.badges }).toEqual({ host: t.hostname, ...expected });
      }
      expect(await page.locator('[data-testid=wave]').count()).toBe(done.rollout.waves.length);
      expect(await page.locator(`[data-testid=placement-row][data-placement-id="${id}"] [data-testid=cancel]`).count()).toBe(0);

      // edge-a04 runs across NIC and DPU: its detail explains each choice and what was turned down.
      const plan = (await http(h.apiUrl, 'GET', `/v1/placements/${id}/plan`)).body;
      const a04 = plan.machines.find((m: { hostname: string }) => m.hostname === 'edge-a04');
      const targets = Object.values<{ target: string }>(a04.placements)
        .map((p) => p.target)
        .sort();
      const badgeTargets = await page
        .locator(`[data-testid=machine-tile][data-system-id="${a04.systemId}"] [data-testid=module-badge]`)
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-target')!).sort());
      expect(badgeTargets).toEqual(targets);
      await page.click(`[data-testid=machine-tile][data-system-id="${a04.systemId}"]`);
      await page.waitForSelector(`[data-testid=detail-machine][data-system-id="${a04.systemId}"]`);
      expect(await page.locator('[data-testid=module-detail]').count()).toBe(3);
      expect(await page.locator('[data-testid=placement-reason]').allTextContents()).toEqual(
        Object.values<{ reasons: string[] }>(a04.placements).flatMap((p) => p.reasons),
      );
      // What each chosen hook costs, worded from the plan's numbers.
      expect(await page.locator('[data-testid=placement-cost]').allTextContents()).toEqual(
        Object.values<{ costBreakdown: CostBreakdown }>(a04.placements).map((p) =>
          expect.stringMatching(new RegExp(`^costs ${breakdownWords(p.costBreakdown).split(' ')[0]} hce, `)),
        ),
      );
      expect(await page.locator('[data-testid=rejected-target]').count()).toBe(
        Object.values<{ rejected: unknown[] }>(a04.placements).reduce((n, p) => n + p.rejected.length, 0),
      );
      expect(await page.locator('[data-testid=rollout-reason]').textContent()).toBe('—');

      mkdirSync('test/artifacts', { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(existsSync(SCREENSHOT)).toBe(true);

      // A host the plan skipped says why.
      const skipped = plan.skipped[0];
      await page.click(`[data-testid=machine-tile][data-system-id="${skipped.systemId}"]`);
      expect(await page.locator('[data-testid=skip-reason]').textContent()).toContain(skipped.reason);
      expect(pageErrors).toEqual([]);
    },
    120_000,
  );

  itBrowser(
    'cancels a running placement from its row; machines it never touched keep what they run',
    async (page) => {
      const h = harness();
      const before = await tiles(page);
      // Holding every target machine's rollout lock keeps the canary waiting, so the cancel lands mid-rollout, not after it.
      const dry = await http(h.apiUrl, 'POST', '/v1/placements', { ...EXAMPLE, dryRun: true });
      const held: string[] = dry.body.plan.machines.map((m: { systemId: string }) => m.systemId);
      const rollouts = h.worker!.get<RolloutRepository>(ROLLOUT_REPOSITORY);
      for (const m of held) expect(await rollouts.lockMachine(m, HOLD, 60_000)).toBe(true);
      let id: string;
      try {
        const res = await http(h.apiUrl, 'POST', '/v1/placements', EXAMPLE);
        expect(res.status).toBe(202);
        id = res.body.id;
        const row = `[data-testid=placement-row][data-placement-id="${id}"]`;
        await page.waitForSelector(`${row}[data-status=rolling-out]`);
        await page.click(`${row} [data-testid=cancel]`);
        await page.waitForSelector(`[data-testid=status]:has-text("cancel requested for ${id}")`);
      } finally {
        for (const m of held) await rollouts.unlockMachine(m, HOLD);
      }
      const done = await waitStatus(h, id, ['completed', 'failed', 'infeasible', 'cancelled', 'rolled-back']);
      expect(done.status).toBe('cancelled');
      expect(new Set(done.rollout.machines.map((m: { state: string }) => m.state))).toEqual(new Set(['cancelled']));
      await page.waitForSelector(`[data-testid=placement-row][data-placement-id="${id}"][data-status=cancelled]`);
      expect(await page.locator(`[data-testid=placement-row][data-placement-id="${id}"] [data-testid=cancel]`).count()).toBe(0);
      expect((await tiles(page)).map((t) => [t.hostname, t.state, t.badges])).toEqual(before.map((t) => [t.hostname, t.state, t.badges]));
      expect(pageErrors).toEqual([]);
    },
    120_000,
  );
});
