/**
 * Builds the publishable `@memmesh/client` into a directory of its own (default
 * `lib/client/dist`): one ESM file with the workspace code it uses bundled in (no Node
 * built-ins, no other memmesh package), its declarations in one file that needs only `zod`
 * (the API's types are zod schemas' inferred types), and a package.json for that directory.
 * `npm pack lib/client/dist` (or `npm run pack -w @memmesh/client`) makes the tarball; the
 * workspace itself keeps using the TypeScript sources.
 *
 * tsdown (rolldown and its declaration bundler) does the bundling: writing declarations of
 * workspace packages into one file by hand is what such tools exist for.
 *
 *   node lib/client/scripts/build.ts [outDir]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsdown';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface SourceManifest {
  name: string;
  version: string;
  description: string;
  license: string;
  devDependencies: Record<string, string>;
}

/** Builds into `outDir` and returns the path of the package directory. */
export async function buildClientPackage(outDir = resolve(ROOT, 'dist')): Promise<string> {
  await build({
    // Only what is written here: no tsdown.config.* is looked for (tsdown searches the parent
    // directories for one, and a stray file there would change the build), and the
    // repository's own tsconfig, not whichever one a parent directory holds.
    config: false,
    tsconfig: resolve(ROOT, '..', '..', 'tsconfig.json'),
    cwd: ROOT,
    entry: ['src/index.ts'],
    format: 'esm',
    platform: 'neutral',
    outDir,
    dts: true,
    // Bundled: the workspace packages are not published. External: zod, whose types the
    // declarations refer to, and Node's built-ins, which only modules the client does not
    // use (ids, config) import.
    noExternal: [/^@memmesh\//],
    external: ['zod', /^node:/],
    clean: true,
    logLevel: 'error',
  });
  const source = JSON.parse(await readFile(resolve(ROOT, 'package.json'), 'utf8')) as SourceManifest;
  const manifest = {
    name: source.name,
    version: source.version,
    description: source.description,
    license: source.license,
    type: 'module',
    exports: { '.': { types: './index.d.ts', import: './index.js' } },
    types: './index.d.ts',
    sideEffects: false,
    // Types only: the bundle itself imports nothing.
    dependencies: { zod: source.devDependencies.zod },
  };
  await writeFile(resolve(outDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildClientPackage(process.argv[2] ? resolve(process.argv[2]) : undefined);
  console.log(`@memmesh/client built into ${out}`);
}
