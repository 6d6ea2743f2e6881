/**
 * The committed values-<region>.yaml files are what regions/ implies, and the check that
 * says so notices a stale, a missing and a left-over file.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadTopology } from '@memmesh/routing';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import {
  CHART_DIR,
  REGIONS_DIR,
  regionValuesFiles,
  staleValuesFiles,
} from '../../../scripts/deploy/region-values.ts';
import { ROOT, TOOL_TIMEOUT_MS } from './helm.ts';

describe('region values', () => {
  test('region values - node scripts/deploy/region-values.ts --check passes on the committed files', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'scripts/deploy/region-values.ts'), '--check'],
      { timeout: TOOL_TIMEOUT_MS },
    );
    expect(stdout).toMatch(/3 region values files match regions\//);
  });

  test('region values - each file carries its region, every region file and the tenants', async () => {
    const topology = await loadTopology(REGIONS_DIR);
    const files = regionValuesFiles(topology);
    expect([...files.keys()].sort()).toEqual(topology.regions.map((r) => `values-${r.id}.yaml`).sort());
    for (const region of topology.regions) {
      const values = parse(files.get(`values-${region.id}.yaml`) ?? '');
      expect(values.region).toBe(region.id);
      expect({ id: region.id, ...values.regions[region.id] }).toEqual(region);
      expect(Object.keys(values.regions).sort()).toEqual(topology.regions.map((r) => r.id).sort());
      expect(values.tenants).toEqual(topology.tenants);
    }
  });

  test('region values - the check names stale, missing and left-over files', async () => {
    const want = regionValuesFiles(await loadTopology(REGIONS_DIR));
    const dir = await mkdtemp(join(tmpdir(), 'memmesh-values-'));
    try {
      for (const name of (await readdir(CHART_DIR)).filter((n) => n.startsWith('values-'))) {
        await copyFile(join(CHART_DIR, name), join(dir, name));
      }
      expect(await staleValuesFiles(dir, want)).toEqual([]);
      await writeFile(join(dir, 'values-us-east-1.yaml'), 'region: us-east-1\n');
      await rm(join(dir, 'values-eu-central-1.yaml'));
      await writeFile(join(dir, 'values-us-west-2.yaml'), 'region: us-west-2\n');
      expect(await staleValuesFiles(dir, want)).toEqual([
        'values-eu-central-1.yaml (missing)',
        'values-us-east-1.yaml (differs)',
        'values-us-west-2.yaml (no region file)',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
