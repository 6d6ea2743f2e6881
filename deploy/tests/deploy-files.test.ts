/**
 * The deployment files around the chart point at things that exist: the image is built the
 * way the chart runs it, CI runs the README's test command, and Argo CD installs one release
 * per region with that region's values file.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';

const ROOT = new URL('../..', import.meta.url).pathname;
const CHART = 'deploy/helm/memmesh';
const read = (path: string) => readFile(join(ROOT, path), 'utf8');
const regionIds = async () =>
  (await readdir(join(ROOT, 'regions'), { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();

describe('deploy files - image', () => {
  test('deploy files - the Dockerfile installs production dependencies and runs as uid 10001', async () => {
    const dockerfile = await read('deploy/docker/Dockerfile');
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    expect(dockerfile).toContain('ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev');
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    // Every folder the image copies exists and is not excluded by .dockerignore.
    const ignored = (await read('.dockerignore')).split('\n').filter((l) => l && !l.startsWith('#'));
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(\S+) /gm)) {
      if (source === '.') continue;
      expect(existsSync(join(ROOT, source as string)), `${source} exists`).toBe(true);
      expect(ignored, `${source} is sent to the build`).not.toContain(source);
    }
    for (const heavy of ['**/node_modules', '.tools', '.git']) expect(ignored).toContain(heavy);
  });
});

describe('deploy files - workflows', () => {
  test('deploy files - CI runs npm test and the image workflow builds the Dockerfile on tags', async () => {
    const ci = parse(await read('.github/workflows/ci.yml'));
    const ciRuns = ci.jobs.test.steps.map((s: { run?: string }) => s.run).filter(Boolean);
    expect(ciRuns).toContain('npm test');
    expect(ci.jobs.test['timeout-minutes']).toBeLessThanOrEqual(90);

    const image = parse(await read('.github/workflows/image.yml'));
    expect(image.on.push.tags).toEqual(['v*']);
    const build = image.jobs.image.steps.find((s: { uses?: string }) =>
      s.uses?.startsWith('docker/build-push-action'),
    );
    expect(existsSync(join(ROOT, build.with.file))).toBe(true);
    expect(build.with.push).toBe(true);
  });
});

describe('deploy files - argo cd', () => {
  test('deploy files - the Application installs the chart with its region values', async () => {
    const app = parse(await read('deploy/argocd/application-us-east-1.yaml'));
    expect(app.kind).toBe('Application');
    expect(app.spec.source.path).toBe(CHART);
    for (const file of app.spec.source.helm.valueFiles) {
      expect(existsSync(join(ROOT, CHART, file)), file).toBe(true);
    }
    expect(app.spec.source.helm.releaseName).toBe('memmesh-us-east-1');
  });

  test('deploy files - the ApplicationSet yields one release per region file, each with a values file', async () => {
    const set = parse(await read('deploy/argocd/applicationset.yaml'));
    expect(set.kind).toBe('ApplicationSet');
    expect(set.spec.generators[0].git.files).toEqual([{ path: 'regions/*/region.json' }]);
    const { source } = set.spec.template.spec;
    expect(source.path).toBe(CHART);
    for (const id of await regionIds()) {
      // The git files generator exposes the JSON's fields: `.id` is the region id.
      const region = JSON.parse(await read(`regions/${id}/region.json`));
      const valuesFile = String(source.helm.valueFiles[0]).replace('{{ .id }}', region.id);
      expect(existsSync(join(ROOT, CHART, valuesFile)), valuesFile).toBe(true);
    }
  });
});
