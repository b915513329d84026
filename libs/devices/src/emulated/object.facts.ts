import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeObject, decodeBtfMaps, findBpftool, readBpfObject, runProcess, type BtfDump, type ObjectFacts } from '@ioplane/compiler';

// The analysis decodes BTF with bpftool, tens of ms in a child process. Run synchronously it would
// stall every other device the agent hosts (their flash timers, their requests) for that long,
// which devices verifying on their own silicon never do; so the child runs asynchronously. A
// digest names exact bytes, so the facts of an object already seen (or being analysed) are reused.
// Bounded, oldest first out.
const FACTS = new Map<string, Promise<ObjectFacts>>();
export function factsOf(digest: string, object: Buffer): Promise<ObjectFacts> {
  let f = FACTS.get(digest);
  if (!f) {
    const p = analyze(object);
    f = p;
    FACTS.set(digest, p);
    // A failed analysis is not remembered: the same bytes may be sent again once bpftool works.
    p.catch(() => FACTS.get(digest) === p && FACTS.delete(digest));
    if (FACTS.size > 256) FACTS.delete(FACTS.keys().next().value!);
  }
  return f;
}

async function analyze(object: Buffer): Promise<ObjectFacts> {
  const bin = findBpftool();
  if (!bin || !readBpfObject(object).section('.BTF')) return analyzeObject(object);
  const dump = await withObjectFile(object, (path) => runProcess(bin, ['btf', 'dump', 'file', path, '-j'], { timeoutMs: 30_000, maxOutputBytes: 64 << 20 }));
  // A failing bpftool is left to the analyser, which runs it again and records why in the facts.
  if (dump.code !== 0) return analyzeObject(object);
  return analyzeObject(object, { btf: decodeBtfMaps(JSON.parse(dump.stdout) as BtfDump) });
}

export async function withObjectFile<T>(bytes: Buffer, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'ioplane-dev-'));
  try {
    const path = join(dir, 'module.o');
    await fsp.writeFile(path, bytes);
    return await fn(path);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
