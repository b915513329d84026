import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeObjectAsync, type ObjectFacts } from '@ioplane/compiler';

// The analysis decodes BTF with bpftool, tens of ms. Run synchronously it would stall every other
// device the agent hosts (their flash timers, their requests), which devices verifying on their
// own silicon never do, so the asynchronous analyser is used. A digest names exact bytes, so the
// facts of an object already seen (or being analysed) are reused. Bounded, oldest first out.
const FACTS = new Map<string, Promise<ObjectFacts>>();
export function factsOf(digest: string, object: Buffer): Promise<ObjectFacts> {
  const known = FACTS.get(digest);
  if (known) return known;
  const facts = analyzeObjectAsync(object);
  FACTS.set(digest, facts);
  // A failed analysis is not remembered: the same bytes may be sent again once bpftool works.
  facts.catch(() => FACTS.get(digest) === facts && FACTS.delete(digest));
  if (FACTS.size > 256) FACTS.delete(FACTS.keys().next().value!);
  return facts;
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
