import { spawnSync } from 'node:child_process';

/** The reference: bpftool prog loadall in a throwaway bpffs of its own, given the program's type. */
export function bpftoolLoadall(obj: string, type: string | null): boolean {
  const r = spawnSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      'mount -t bpf bpf /sys/fs/bpf && exec bpftool prog loadall "$0" /sys/fs/bpf/p "$@"',
      obj,
      ...(type ? ['type', type] : []),
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  return r.status === 0;
}
