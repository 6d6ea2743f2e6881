import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIMITS } from '@memmesh/core/limits';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultIdPrefix, type ImportMemory, readSource } from './sources.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'memmesh-sources-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function all(path: string, format: 'jsonl' | 'csv' | 'dir'): Promise<ImportMemory[]> {
  const out: ImportMemory[] = [];
  for await (const m of readSource(path, format, { idPrefix: defaultIdPrefix(path, format) })) out.push(m);
  return out;
}

const bytes = (text: string) => new TextEncoder().encode(text).byteLength;

describe('sources - import records', () => {
  it('sources - a text over the API limit is cut into parts within it, whole characters, nothing lost', async () => {
    const paragraph = `${'Ünïcode 🦊 words and more words '.repeat(40)}\n\n`;
    const text = paragraph.repeat(Math.ceil((3 * LIMITS.textBytesMax) / bytes(paragraph)));
    const file = join(dir, 'long.jsonl');
    await writeFile(file, `${JSON.stringify({ id: 'long', text })}\n`);
    const parts = await all(file, 'jsonl');
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(parts.map((p) => p.id)).toEqual(parts.map((_, n) => `long:${n + 1}`));
    for (const part of parts) {
      expect(bytes(part.text)).toBeLessThanOrEqual(LIMITS.textBytesMax);
      expect(part.text).not.toMatch(/\uFFFD/);
    }
    expect(parts.map((p) => p.text).join('')).toBe(text);
    // Cut at paragraph breaks where there are some.
    expect(parts[0]?.text.endsWith('\n\n')).toBe(true);
  });

  it('sources - ids are deterministic: the same source reads the same way twice', async () => {
    const file = join(dir, 'my notes!.jsonl');
    await writeFile(file, '{"text":"one"}\n{"text":"  "}\n{"text":"three","id":"own"}\n');
    const first = await all(file, 'jsonl');
    expect(first.map((m) => m.id)).toEqual(['my-notes-:1', 'own']);
    expect(await all(file, 'jsonl')).toEqual(first);
  });
});
