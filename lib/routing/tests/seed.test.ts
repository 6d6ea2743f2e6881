import { cp, mkdir, mkdtemp, rename, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTopology } from '../src/index.ts';

const REGIONS = new URL('../../../regions', import.meta.url).pathname;
const dirs: string[] = [];

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'memmesh-seed-'));
  dirs.push(dir);
  return dir;
}

describe('load topology', () => {
  it('topology - reads the repository regions and tenants', async () => {
    const topology = await loadTopology(REGIONS);
    expect(topology.regions.map((r) => r.id)).toEqual(['ap-southeast-1', 'eu-central-1', 'us-east-1']);
    expect(topology.tenants.map((t) => t.tenant)).toContain('acme');
  });

  it('topology - reads a Kubernetes volume layout: links into a ..data folder, which is skipped', async () => {
    // How the kubelet projects a ConfigMap: the content in a timestamped folder, `..data`
    // linking to it, and each top-level name a link through `..data`.
    const dir = await tempDir();
    const stamped = join(dir, '..2026_11_25_10_00_00.000000001');
    await cp(REGIONS, stamped, { recursive: true });
    await rm(join(stamped, 'README.md'), { force: true });
    await symlink('..2026_11_25_10_00_00.000000001', join(dir, '..data'));
    for (const name of ['us-east-1', 'eu-central-1', 'ap-southeast-1', 'tenants.json']) {
      await symlink(join('..data', name), join(dir, name));
    }
    const topology = await loadTopology(dir);
    expect(topology.regions.map((r) => r.id)).toEqual(['ap-southeast-1', 'eu-central-1', 'us-east-1']);
  });

  it('topology - a folder whose region file names another id is refused, naming the file', async () => {
    const dir = await tempDir();
    await cp(REGIONS, dir, { recursive: true });
    await mkdir(join(dir, 'moved'));
    await rename(join(dir, 'us-east-1', 'region.json'), join(dir, 'moved', 'region.json'));
    await rm(join(dir, 'us-east-1'), { recursive: true });
    await expect(loadTopology(dir)).rejects.toThrow(
      /moved\/region.json: id us-east-1 does not match its folder moved/,
    );
  });
});
