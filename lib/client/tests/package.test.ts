/**
 * The published shape of `@memmesh/client`, as a user of the registry would get it: built by
 * scripts/build.ts, packed by `npm pack`, unpacked into a project of its own that has nothing
 * of this workspace but `zod` (the one dependency the declarations name). There, plain Node
 * imports it and sends a request with it, and the TypeScript compiler checks a program
 * against its declarations with no Node types at all (as in a browser project).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClientPackage } from '../scripts/build.ts';

const run = promisify(execFile);
const REPO = new URL('../../../', import.meta.url).pathname;
const TSC = join(REPO, 'node_modules', '.bin', 'tsc');
/** npm and tsc on two busy cores: generous, and every step is bounded by it. */
const STEP_MS = 60_000;

let work: string;
let consumer: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'memmesh-client-package-'));
  const built = await buildClientPackage(join(work, 'dist'));
  // npm pack runs nothing here (the built package has no scripts) and needs no network.
  const { stdout } = await run('npm', ['pack', built, '--pack-destination', work, '--json'], {
    timeout: STEP_MS,
    // Offline and quiet: a test sends nothing past loopback (no update check, no audit).
    env: {
      ...process.env,
      npm_config_loglevel: 'error',
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
    },
  });
  const [packed] = JSON.parse(stdout) as { filename: string }[];
  consumer = join(work, 'consumer');
  const installed = join(consumer, 'node_modules', '@memmesh', 'client');
  await mkdir(installed, { recursive: true });
  await run(
    'tar',
    ['-xzf', join(work, (packed as { filename: string }).filename), '-C', installed, '--strip-components=1'],
    {
      timeout: STEP_MS,
    },
  );
  // The one dependency, from this repository's install, as npm would have put it there.
  await symlink(join(REPO, 'node_modules', 'zod'), join(consumer, 'node_modules', 'zod'), 'dir');
  await writeFile(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', type: 'module', private: true }),
  );
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the published client package', () => {
  it('package - the tarball holds the bundle, its declarations and a manifest, and nothing of the workspace', async () => {
    const installed = join(consumer, 'node_modules', '@memmesh', 'client');
    expect((await readdir(installed)).sort()).toEqual(['index.d.ts', 'index.js', 'package.json']);
    const bundle = await readFile(join(installed, 'index.js'), 'utf8');
    // Self-contained: no import of a workspace package, of Node's built-ins or of anything else.
    expect(bundle).not.toMatch(/^\s*import\s/m);
    expect(bundle).not.toMatch(/@memmesh\/|node:/);
    const declarations = await readFile(join(installed, 'index.d.ts'), 'utf8');
    const imported = [...declarations.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(imported).toEqual(['zod']);
    expect(declarations).not.toMatch(/^import "/m);
  });

  it('package - plain Node imports it and its requests fail as the API promises when no one answers', async () => {
    const script = `
      import { createClient, MeshError, MemmeshApiError, ErrorCode } from '@memmesh/client';
      const client = createClient({ url: 'http://127.0.0.1:9', apiKey: 'k', retry: { attemptsMax: 1 } });
      try {
        await client.get('some-id');
        console.log(JSON.stringify({ answered: true }));
      } catch (err) {
        console.log(JSON.stringify({
          mesh: err instanceof MeshError,
          api: err instanceof MemmeshApiError,
          code: err.code,
          unavailable: ErrorCode.Unavailable,
        }));
      }
    `;
    await writeFile(join(consumer, 'try.mjs'), script);
    const { stdout } = await run(process.execPath, ['try.mjs'], { cwd: consumer, timeout: STEP_MS });
    const outcome = JSON.parse(stdout.trim()) as Record<string, unknown>;
    expect(outcome).toEqual({ mesh: true, api: false, code: 'unavailable', unavailable: 'unavailable' });
  }, 90_000);

  it('package - its declarations type-check a program without Node types, and catch a wrong one', async () => {
    const good = `
      import { createClient, type MemmeshClient, type SearchResponse, type MemoryInput, isMeshError } from '@memmesh/client';
      const client: MemmeshClient = createClient({ url: 'https://memmesh.example', apiKey: 'k' });
      const memory: MemoryInput = { text: 'the meeting moved to Thursday', scope: { userId: 'u1' }, metadata: { kind: 'note' } };
      export async function demo(): Promise<number> {
        await client.add(memory);
        const found: SearchResponse = await client.search({ query: 'when is the meeting', topK: 3 });
        try { await client.get('x'); } catch (err) { if (isMeshError(err, 'not_found')) return 0; }
        return found.results.length;
      }
    `;
    const bad = `
      import { createClient } from '@memmesh/client';
      const client = createClient({ url: 'https://memmesh.example', apiKey: 'k' });
      export const wrong = client.search({ query: 42 });
    `;
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        lib: ['es2022', 'dom'],
        types: [],
        skipLibCheck: false,
      },
    };
    await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files: ['good.ts'] }));
    await writeFile(join(consumer, 'good.ts'), good);
    await run(TSC, ['-p', 'tsconfig.json'], { cwd: consumer, timeout: STEP_MS });
    await writeFile(join(consumer, 'tsconfig.bad.json'), JSON.stringify({ ...tsconfig, files: ['bad.ts'] }));
    await writeFile(join(consumer, 'bad.ts'), bad);
    const failed = await run(TSC, ['-p', 'tsconfig.bad.json'], { cwd: consumer, timeout: STEP_MS }).then(
      () => undefined,
      (err: { stdout?: string }) => err.stdout ?? '',
    );
    expect(failed).toMatch(
      /bad\.ts\(\d+,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/,
    );
  }, 120_000);
});
