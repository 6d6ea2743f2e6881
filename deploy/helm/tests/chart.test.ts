/**
 * The chart as Helm and Kubernetes see it: lint, render for every region, validate every
 * rendered object against the Kubernetes API schemas, check the Prometheus Operator objects
 * (whose CRDs kubernetes-validate does not know) and the in-chart NATS configuration, and
 * refuse bad values with a message that names the field.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayPermissions, regionAgentPermissions } from '@memmesh/core';
import { createNatsSecurity } from '@memmesh/testkit';
import { nkeys } from '@nats-io/transport-node';
import { describe, expect, test } from 'vitest';
import {
  AGENT_NKEY,
  byKind,
  CHART_DIR,
  EVERYTHING_ON_ARGS,
  GATEWAY_NKEY,
  helmBin,
  helmTemplate,
  KUBERNETES_VERSION,
  kubernetesValidateBin,
  type Manifest,
  NATS_SECURITY_ARGS,
  natsServerBin,
  OPERATOR_NKEY,
  parseManifests,
  render,
  run,
  valuesFile,
  valuesRegions,
} from './helm.ts';

const REGIONS = valuesRegions();
/** Kinds that come from CRDs: kubernetes-validate has no schema for them, checkCustomResource does. */
const CUSTOM_KINDS = new Set(['ServiceMonitor', 'PrometheusRule']);

describe('chart - helm', () => {
  test('chart - there is a values file for every region', () => {
    expect(REGIONS).toEqual(['ap-southeast-1', 'eu-central-1', 'us-east-1']);
  });

  test.each(REGIONS)('chart - helm lint --strict passes for %s', async (region) => {
    const result = await run(helmBin(), ['lint', '--strict', CHART_DIR, '--values', valuesFile(region)]);
    expect(result.stdout + result.stderr, `helm lint for ${region}`).toMatch(
      /1 chart\(s\) linted, 0 chart\(s\) failed/,
    );
    expect(result.code).toBe(0);
  });

  test.each(REGIONS)(
    `chart - %s renders and validates against Kubernetes ${KUBERNETES_VERSION}`,
    async (region) => {
      // The defaults, and every optional part switched on (one kubernetes-validate run for both).
      const rendered: Manifest[] = [];
      for (const args of [[], EVERYTHING_ON_ARGS]) {
        const result = await helmTemplate(region, args);
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
        rendered.push(...parseManifests(result.stdout));
      }
      await expectValidKubernetes(rendered, region);
      for (const m of rendered.filter((m) => CUSTOM_KINDS.has(m.kind))) checkCustomResource(m);
    },
  );
});

/** kubernetes-validate --strict on every built-in object; custom resources are checked apart. */
async function expectValidKubernetes(rendered: Manifest[], region: string): Promise<void> {
  const result = await kubernetesValidate(rendered.filter((m) => !CUSTOM_KINDS.has(m.kind)));
  expect(result.stdout + result.stderr, `kubernetes-validate for ${region}`).toBe('');
  expect(result.code).toBe(0);
}

async function kubernetesValidate(manifests: Manifest[]) {
  const dir = await mkdtemp(join(tmpdir(), 'memmesh-kv-'));
  try {
    const file = join(dir, 'manifests.yaml');
    await writeFile(file, manifests.map((m) => JSON.stringify(m)).join('\n---\n'));
    return await run(kubernetesValidateBin(), [
      '--strict',
      '--kubernetes-version',
      KUBERNETES_VERSION,
      '--quiet',
      file,
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('chart - kubernetes-validate --strict refuses an unknown field, so a pass means something', async () => {
  const [service] = byKind(await render('us-east-1'), 'Service');
  service!.spec.ports[0].targetPorts = 'http';
  const result = await kubernetesValidate([service!]);
  expect(result.code).not.toBe(0);
  expect(result.stdout + result.stderr).toMatch(/'targetPorts' was unexpected/);
});

/**
 * The minimal check of a Prometheus Operator object: the fields the operator needs, with the
 * types it expects (kubernetes-validate ships no schemas for CRDs).
 */
function checkCustomResource(m: Manifest): void {
  expect(m.apiVersion).toBe('monitoring.coreos.com/v1');
  expect(m.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  if (m.kind === 'ServiceMonitor') {
    expect(m.spec.selector.matchLabels).toBeTypeOf('object');
    expect(m.spec.endpoints.length).toBeGreaterThan(0);
    for (const endpoint of m.spec.endpoints) {
      expect(Object.keys(endpoint).sort()).toEqual(['interval', 'path', 'port', 'scrapeTimeout']);
      expect(endpoint.path).toBe('/metrics');
      expect(endpoint.interval).toMatch(/^\d+(s|m)$/);
    }
    return;
  }
  expect(m.spec.groups.length).toBeGreaterThan(0);
  for (const group of m.spec.groups) {
    expect(Object.keys(group).sort()).toEqual(['name', 'rules']);
    for (const rule of group.rules) {
      expect(Object.keys(rule).sort()).toEqual(['alert', 'annotations', 'expr', 'for', 'labels']);
      expect(rule.alert).toMatch(/^Memmesh[A-Za-z]+$/);
      expect(rule.for).toMatch(/^\d+(s|m|h)$/);
      expect(['critical', 'warning', 'info']).toContain(rule.labels.severity);
      expect(Object.keys(rule.annotations).sort()).toEqual([
        'description',
        'runbook',
        'runbook_url',
        'summary',
      ]);
      expect(balanced(rule.expr), `parentheses of ${rule.alert}`).toBe(true);
    }
  }
}

function balanced(expr: string): boolean {
  let depth = 0;
  for (const ch of expr) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (depth < 0) return false;
  }
  return depth === 0;
}

describe('chart - monitoring objects', () => {
  test('chart - the ServiceMonitor selects the agents and the gateway on a port named http', async () => {
    const manifests = await render('us-east-1');
    const [monitor] = byKind(manifests, 'ServiceMonitor');
    const selected = byKind(manifests, 'Service').filter((service) => {
      const labels = service.metadata.labels ?? {};
      const { matchLabels, matchExpressions } = monitor!.spec.selector;
      return (
        Object.entries(matchLabels).every(([k, v]) => labels[k] === v) &&
        matchExpressions.every((e: any) => e.operator === 'In' && e.values.includes(labels[e.key]))
      );
    });
    const components = selected.map((s) => s.metadata.labels?.['app.kubernetes.io/component']).sort();
    expect(components).toEqual(['agent', 'gateway']);
    for (const service of selected) expect(service.spec.ports.map((p: any) => p.name)).toContain('http');
  });

  test('chart - each monitoring object can be turned off on its own', async () => {
    for (const [flag, kind] of [
      ['monitoring.serviceMonitor.enabled', 'ServiceMonitor'],
      ['monitoring.prometheusRule.enabled', 'PrometheusRule'],
    ] as const) {
      const manifests = await render('us-east-1', ['--set', `${flag}=false`]);
      expect(byKind(manifests, kind)).toEqual([]);
    }
    const dashboards = (args: string[]) =>
      render('us-east-1', args).then((ms) => ms.filter((m) => m.metadata.labels?.grafana_dashboard === '1'));
    expect(await dashboards([])).toHaveLength(1);
    expect(await dashboards(['--set', 'monitoring.grafanaDashboard.enabled=false'])).toEqual([]);
  });
});

describe('chart - in-chart NATS', () => {
  test('chart - nats-server accepts the rendered configuration', async () => {
    const text = await renderedNatsConfig('us-east-1', EVERYTHING_ON_ARGS);
    expect(text).toContain('name: "us-east-1"');
    expect(text).toContain('nats://nats-eu.memmesh.example:7222');
    const dir = await mkdtemp(join(tmpdir(), 'memmesh-nats-conf-'));
    // The Secret's files, where the pod mounts them: -t loads the certificate and key.
    const security = await createNatsSecurity({ regions: ['us-east-1'] });
    try {
      await mkdir(join(dir, 'tls'));
      await copyFile(security.tls.certFile, join(dir, 'tls', 'tls.crt'));
      await copyFile(security.tls.keyFile, join(dir, 'tls', 'tls.key'));
      await copyFile(security.tls.caFile, join(dir, 'tls', 'ca.crt'));
      await writeFile(join(dir, 'nats.conf'), text.replaceAll('/etc/nats/tls/', `${dir}/tls/`));
      // -t parses and checks the configuration, then exits; it never listens.
      const result = await run(natsServerBin(), ['-t', '-c', join(dir, 'nats.conf')], { POD_NAME: 'nats-0' });
      expect(result.stdout + result.stderr).toMatch(/is valid/);
      expect(result.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await security.remove();
    }
  });

  test('chart - NATS is locked down: TLS on client, route and gateway connections, and nkey users only', async () => {
    const text = await renderedNatsConfig('us-east-1', EVERYTHING_ON_ARGS);
    // Three tls blocks: clients, routes (verify), gateways (verify).
    expect(text.match(/^\s*tls \{/gm)).toHaveLength(3);
    expect(text.match(/verify: true/g)).toHaveLength(2);
    expect(text).toContain('cert_file: /etc/nats/tls/tls.crt');
    expect(text).not.toMatch(/no_auth_user|authorization \{/);
    expect(text).toContain(`nkey: "${AGENT_NKEY}"`);
    expect(text).toContain(`nkey: "${OPERATOR_NKEY}"`);
    expect(text).toContain(`nkey: "${GATEWAY_NKEY}"`);
  });

  test('chart - during a key rotation the previous agent key is accepted with the same permissions', async () => {
    const previous = nkeys.createUser().getPublicKey();
    const args = [
      ...NATS_SECURITY_ARGS,
      '--set',
      `nats.enabled=true,nats.users.previousAgentNkey=${previous}`,
    ];
    const lines = (await renderedNatsConfig('us-east-1', args)).split('\n');
    const permissionsOf = (key: string) => {
      const line = lines.find((l) => l.includes(`nkey: "${key}"`)) ?? '';
      return line.slice(line.indexOf('permissions:'));
    };
    expect(permissionsOf(previous)).toMatch(/mem\.us-east-1/);
    expect(permissionsOf(previous)).toBe(permissionsOf(AGENT_NKEY));
    expect(
      (await renderedNatsConfig('us-east-1', [...NATS_SECURITY_ARGS, '--set', 'nats.enabled=true'])).match(
        /nkey:/g,
      ),
    ).toHaveLength(3);
  });

  test.each(REGIONS)(
    "chart - %s's agent user has exactly the region agent role of @memmesh/core",
    async (region) => {
      const text = await renderedNatsConfig(region, [...NATS_SECURITY_ARGS, '--set', 'nats.enabled=true']);
      const line = text.split('\n').find((l) => l.includes(`nkey: "${AGENT_NKEY}"`)) ?? '';
      const rendered = parseNatsPermissions(line.slice(line.indexOf('permissions:') + 'permissions:'.length));
      const expected = regionAgentPermissions(region, REGIONS);
      expect(rendered.publish.allow.sort()).toEqual([...expected.publish.allow].sort());
      expect(rendered.subscribe.allow.sort()).toEqual([...expected.subscribe.allow].sort());
      expect(rendered.allow_responses).toBe(true);
      const gatewayLine = text.split('\n').find((l) => l.includes(`nkey: "${GATEWAY_NKEY}"`)) ?? '';
      const gateway = parseNatsPermissions(
        gatewayLine.slice(gatewayLine.indexOf('permissions:') + 'permissions:'.length),
      );
      const expectedGateway = gatewayPermissions(region);
      expect(gateway.publish.allow).toEqual(expectedGateway.publish.allow);
      expect(gateway.subscribe.allow).toEqual(expectedGateway.subscribe.allow);
      expect(gateway.allow_responses).toBeUndefined();
    },
  );

  test('chart - the gateway appends admin changes to the audit log as its own NATS user', async () => {
    const manifests = await render('us-east-1', EVERYTHING_ON_ARGS);
    const deployment = byKind(manifests, 'Deployment').find((m) => m.metadata.name.endsWith('-gateway'));
    const pod = deployment?.spec.template.spec;
    const env = Object.fromEntries(
      pod.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]),
    );
    expect(env.MEMMESH_GATEWAY_NATS_URL).toMatch(/^nats:\/\/.+-nats\./);
    expect(env.MEMMESH_GATEWAY_NATS_CREDS).toBe('/etc/memmesh/nats/credentials/gateway.nk');
    expect(env.MEMMESH_GATEWAY_NATS_TLS_CA).toBe('/etc/memmesh/nats/ca/ca.crt');
    const volumes = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
    expect(volumes['nats-credentials'].secret.secretName).toBe('memmesh-nats-gateway');
    expect(volumes['nats-credentials'].secret.items).toEqual([{ key: 'gateway.nk', path: 'gateway.nk' }]);
  });

  test("chart - the in-chart NATS is refused without users, the agents' credentials or a certificate", async () => {
    const without = (drop: string) =>
      helmTemplate('us-east-1', [...NATS_SECURITY_ARGS, '--set', `nats.enabled=true,${drop}`]);
    const cases: [string, RegExp][] = [
      ['nats.users.agentNkey=', /nats.users.agentNkey is required/],
      ['nats.credentials.existingSecret=', /nats.credentials.existingSecret is required/],
      ['nats.tls.existingSecret=', /nats.tls.existingSecret is required/],
    ];
    for (const [drop, message] of cases) {
      const result = await without(drop);
      expect(result.code, drop).not.toBe(0);
      expect(result.stderr, drop).toMatch(message);
    }
    const badKey = await without('nats.users.agentNkey=SUAMNOTAPUBLICKEY');
    expect(badKey.code).not.toBe(0);
  });

  test('chart - agents get their NATS seed and the CA as files, and nothing else of the Secrets', async () => {
    const manifests = await render('us-east-1', EVERYTHING_ON_ARGS);
    const agent = byKind(manifests, 'StatefulSet').find((m) => m.metadata.name.endsWith('-agent'));
    const pod = agent?.spec.template.spec;
    const env = Object.fromEntries(
      pod.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]),
    );
    expect(env.MEMMESH_NATS_CREDS).toBe('/etc/memmesh/nats/credentials/agent.nk');
    expect(env.MEMMESH_NATS_TLS_CA).toBe('/etc/memmesh/nats/ca/ca.crt');
    const volumes = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
    expect(volumes['nats-credentials'].secret).toEqual({
      secretName: 'memmesh-nats-agent',
      defaultMode: 0o400,
      items: [{ key: 'agent.nk', path: 'agent.nk' }],
    });
    expect(volumes['nats-ca'].secret).toEqual({
      secretName: 'memmesh-nats-tls',
      items: [{ key: 'ca.crt', path: 'ca.crt' }],
    });
  });

  test("chart - only the other regions' NATS may reach the gateway port", async () => {
    const policyOf = async (args: string[]) => {
      const manifests = await render('us-east-1', args);
      const policy = byKind(manifests, 'NetworkPolicy').find((m) => m.metadata.name.endsWith('-nats'));
      return policy?.spec.ingress as { from?: unknown[]; ports: { port: string }[] }[];
    };
    const open = (await policyOf(EVERYTHING_ON_ARGS)).filter((r) =>
      r.ports.some((p) => p.port === 'gateway'),
    );
    expect(open).toEqual([
      { from: [{ ipBlock: { cidr: '10.20.0.0/16' } }], ports: [{ port: 'gateway', protocol: 'TCP' }] },
    ]);
    const closed = await policyOf([...NATS_SECURITY_ARGS, '--set', 'nats.enabled=true']);
    expect(closed.filter((r) => r.ports.some((p) => p.port === 'gateway'))).toEqual([]);
    // Every other rule names its sources too: no port is open to everyone.
    for (const rule of closed) expect(rule.from?.length, JSON.stringify(rule)).toBeGreaterThan(0);
  });

  test('chart - cert-manager can issue the NATS certificate, for the names clients and gateways dial', async () => {
    const manifests = await render('us-east-1', [
      ...EVERYTHING_ON_ARGS,
      '--set',
      'nats.tls.existingSecret=,nats.tls.certManager.enabled=true,nats.tls.certManager.issuerRef.name=memmesh-ca',
    ]);
    const [certificate] = byKind(manifests, 'Certificate');
    expect(certificate?.apiVersion).toBe('cert-manager.io/v1');
    expect(certificate?.spec.secretName).toBe(certificate?.metadata.name);
    expect(certificate?.spec.usages).toEqual([
      'server auth',
      'client auth',
      'digital signature',
      'key encipherment',
    ]);
    expect(certificate?.spec.dnsNames).toContain('nats-us.memmesh.example');
    expect(certificate?.spec.issuerRef).toEqual({
      name: 'memmesh-ca',
      kind: 'ClusterIssuer',
      group: 'cert-manager.io',
    });
    const nats = byKind(manifests, 'StatefulSet').find((m) => m.metadata.name.endsWith('-nats'));
    const tls = nats?.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls');
    expect(tls.secret.secretName).toBe(certificate?.metadata.name);
  });

  test('chart - fewer NATS servers than stream replicas are refused', async () => {
    const result = await helmTemplate('us-east-1', [
      '--set',
      'nats.enabled=true,nats.replicas=1,regions.us-east-1.streamReplicas=3',
      ...NATS_SECURITY_ARGS,
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/streamReplicas 3 but nats.replicas is 1/);
  });
});

describe('chart - bad values are refused with a clear message', () => {
  const cases: [string, string | undefined, string[], RegExp][] = [
    ['missing region', undefined, [], /missing property 'region'/],
    [
      'wrong type',
      'us-east-1',
      ['--set-json', 'agent.replicas="two"'],
      /\/agent\/replicas': got string, want integer/,
    ],
    [
      'unknown backend',
      'us-east-1',
      ['--set', 'regions.us-east-1.backends.index=faiss'],
      /\/regions\/us-east-1\/backends\/index': value must be one of 'embedded', 'milvus'/,
    ],
    [
      'unknown cache backend',
      'us-east-1',
      ['--set', 'regions.us-east-1.backends.cache=memcached'],
      /value must be one of 'lru', 'redis'/,
    ],
    ['misspelt key', 'us-east-1', ['--set', 'agnet.replicas=3'], /additional properties 'agnet' not allowed/],
    ['bad region id', 'us-east-1', ['--set', 'region=US_EAST'], /at '\/region'/],
    [
      'region without a file',
      'us-east-1',
      ['--set', 'region=us-west-2'],
      /region us-west-2 has no entry in regions/,
    ],
    [
      'redis without its secret',
      'us-east-1',
      ['--set', 'regions.us-east-1.backends.cache=redis'],
      /uses the redis cache: set secrets.redis.existingSecret/,
    ],
    [
      'milvus without an address',
      'us-east-1',
      ['--set', 'regions.us-east-1.backends.index=milvus'],
      /uses the milvus index: set backends.milvus.address/,
    ],
    ['a limitless container', 'us-east-1', ['--set', 'agent.resources.limits=null'], /limits/],
    [
      'a non-MEMMESH env override',
      'us-east-1',
      ['--set', 'agent.env.PATH=/tmp'],
      /'PATH' does not match pattern '\^MEMMESH_/,
    ],
  ];

  test.each(cases)('chart - %s', async (_name, region, args, message) => {
    const result = await helmTemplate(region, args);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });

  test('chart - helm lint --strict fails on bad values too', async () => {
    const result = await run(helmBin(), [
      'lint',
      '--strict',
      CHART_DIR,
      '--values',
      valuesFile('us-east-1'),
      '--set-json',
      'agent.replicas="two"',
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/\/agent\/replicas': got string, want integer/);
  });
});

async function renderedNatsConfig(region: string, args: string[]): Promise<string> {
  const manifests = await render(region, args);
  const config = byKind(manifests, 'ConfigMap').find((m) => m.metadata.name.endsWith('-nats'));
  return config?.data?.['nats.conf'] ?? '';
}

/** The chart writes permissions in NATS's relaxed syntax (bare keys); quoting them makes JSON. */
function parseNatsPermissions(text: string): {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  allow_responses?: boolean;
} {
  const body = text.trim().replace(/\s*\}\s*$/, '');
  return JSON.parse(body.replace(/([{,]\s*)([a-z_]+):/g, '$1"$2":'));
}
