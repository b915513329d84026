import { SingleBar, Presets } from 'cli-progress';
import { IoplaneApi } from './api.client';

export interface JobView {
  id: string;
  name: string;
  state: string;
  progress: number | { percent?: number; stage?: string; done?: number; total?: number };
  result: unknown;
  failedReason: string | null;
}

function percentOf(p: JobView['progress']): number {
  return typeof p === 'number' ? p : (p?.percent ?? 0);
}

/** Follows a job to its end, drawing a progress bar; resolves with the final view. */
export async function watchJob(
  api: IoplaneApi,
  jobId: string,
  opts: { bar?: boolean; intervalMs?: number; out?: NodeJS.WritableStream } = {},
): Promise<JobView> {
  const bar =
    opts.bar === false
      ? null
      : new SingleBar(
          {
            format: ' {name} [{bar}] {percentage}% | {stage} {step}/{steps}',
            noTTYOutput: true,
            notTTYSchedule: 500,
            stream: opts.out ?? process.stderr,
            hideCursor: true,
          },
          Presets.shades_classic,
        );
  let view = await api.request<JobView>('GET', `/v1/jobs/${encodeURIComponent(jobId)}`);
  bar?.start(100, 0, { name: view.name, stage: 'queued', step: 0, steps: 0 });
  try {
    for (;;) {
      const p = view.progress;
      bar?.update(
        percentOf(p),
        typeof p === 'object' ? { stage: p.stage ?? view.state, step: p.done ?? 0, steps: p.total ?? 0 } : { stage: view.state },
      );
      if (view.state === 'completed' || view.state === 'failed') break;
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
      view = await api.request<JobView>('GET', `/v1/jobs/${encodeURIComponent(jobId)}`);
    }
    if (view.state === 'completed') bar?.update(100, { stage: 'done' });
  } finally {
    bar?.stop();
  }
  return view;
}
