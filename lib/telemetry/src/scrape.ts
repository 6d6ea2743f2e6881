/**
 * @module scrape
 * Reading the Prometheus text format: the helpers with which tests (and the Helm chart's
 * tests) check that the names their rules and dashboards use are what a live process exports.
 * Serving `/metrics` is the HTTP layer's (`@memmesh/http`).
 */

/** Longest wait for a scrape; a live process answers in milliseconds. */
export const SCRAPE_TIMEOUT_MS_DEFAULT = 5_000;

/**
 * The names in a text exposition: every metric family (from `# TYPE` lines, present even
 * before a labelled metric has a series) and every series name (`*_bucket`, `*_sum`,
 * `*_count` of histograms included), so a rule may be checked whether it names the family
 * or one of its series.
 */
export function parseMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) /.exec(line);
    if (type) names.add(type[1] as string);
    if (line.startsWith('#')) continue;
    const series = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (series) names.add(series[1] as string);
  }
  return names;
}

/** Scrapes `url` (e.g. `http://127.0.0.1:8080/metrics`) and returns its metric names. */
export async function scrapeMetricNames(
  url: string,
  timeoutMs = SCRAPE_TIMEOUT_MS_DEFAULT,
): Promise<Set<string>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`scrape of ${url} answered ${res.status}: ${text.slice(0, 200)}`);
  return parseMetricNames(text);
}
