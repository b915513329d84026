import { Command } from 'commander';
import { loadProfiles } from '@ioplane/profiles';

export function profilesCommand(): Command {
  const cmd = new Command('profiles').description('firmware profiles: device models, targets and limits');
  cmd
    .command('ls')
    .option('--json')
    .action((f: { json?: boolean }) => {
      const profiles = loadProfiles();
      if (f.json) return void process.stdout.write(`${JSON.stringify(profiles, null, 2)}\n`);
      const w = Math.max(...profiles.map((p) => p.id.length));
      process.stdout.write(`${'ID'.padEnd(w)}  KIND      PCI        TARGETS                                  INSNS    FLASH\n`);
      for (const p of profiles) {
        process.stdout.write(
          `${p.id.padEnd(w)}  ${p.kind.padEnd(8)}  ${`${p.pci.vendorId}:${p.pci.productIds[0]}`.padEnd(9)}  ${p.targets.join(',').padEnd(40)} ${String(p.limits.maxInstructions).padEnd(8)} ${p.flash.tool} (${p.flash.writeSeconds}s${p.flash.slots.length ? `, slots ${p.flash.slots.join('/')}` : ''})\n`,
        );
      }
    });
  return cmd;
}
