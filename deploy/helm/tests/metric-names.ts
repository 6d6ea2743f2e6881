/**
 * @module metric-names
 * Metric names on both sides of the monitoring contract: the ones the chart's alerts and
 * dashboard use, and the ones a live process exports at GET /metrics (`exportedMetricNames`).
 * The contract itself is lib/telemetry/METRICS.md.
 */
import type { Manifest } from './helm.ts';

const METRIC_NAME = /\bmemmesh_[a-z0-9_]+/g;
/** Series a histogram exports besides its name; alerts and panels query them by these. */
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

/**
 * Every memmesh metric queried by the PrometheusRule and the Grafana dashboard of a render,
 * sorted, with histogram series (`_bucket`, `_sum`, `_count`) reduced to their metric (no
 * memmesh metric ends in those otherwise: counters end in `_total`).
 */
export function metricNamesUsed(renderedManifests: Manifest[]): string[] {
  const expressions: string[] = [];
  for (const m of renderedManifests) {
    if (m.kind === 'PrometheusRule') {
      for (const group of m.spec.groups) for (const rule of group.rules) expressions.push(String(rule.expr));
    }
    if (m.kind === 'ConfigMap' && m.metadata.labels?.grafana_dashboard !== undefined) {
      for (const json of Object.values(m.data ?? {}))
        expressions.push(...dashboardExpressions(JSON.parse(json)));
    }
  }
  const names = new Set<string>();
  for (const expr of expressions) {
    for (const [name] of expr.matchAll(METRIC_NAME)) names.add(baseMetricName(name));
  }
  return [...names].sort();
}

function baseMetricName(series: string): string {
  const suffix = HISTOGRAM_SUFFIXES.find((s) => series.endsWith(s));
  return suffix ? series.slice(0, -suffix.length) : series;
}

/** The `expr` of every target of every panel, rows' nested panels included. */
function dashboardExpressions(dashboard: { panels?: unknown[] }): string[] {
  const out: string[] = [];
  const visit = (panels: unknown[] | undefined) => {
    for (const panel of (panels ?? []) as { targets?: { expr?: string }[]; panels?: unknown[] }[]) {
      for (const target of panel.targets ?? []) if (target.expr) out.push(target.expr);
      visit(panel.panels);
    }
  };
  visit(dashboard.panels);
  return out;
}

export interface ExportedMetrics {
  names: Set<string>;
  histograms: Set<string>;
}

/**
 * Metric names and types from a Prometheus text exposition (GET /metrics): the `# TYPE`
 * lines.
 */
export function exportedMetricNames(exposition: string): ExportedMetrics {
  const names = new Set<string>();
  const histograms = new Set<string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') histograms.add(name);
  }
  return { names, histograms };
}
