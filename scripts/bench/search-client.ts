/**
 * @module search-client
 * The bench's HTTP load generator, run as its own process so that its work is not charged
 * to the agent's event loop. Reads {url, queries, count, concurrency, timeMsMax} as JSON
 * from argv[2] and prints a LatencySummary as JSON.
 */
import { measureLatency } from './stats.ts';

const { url, queries, count, concurrency, timeMsMax } = JSON.parse(process.argv[2] as string) as {
  url: string;
  queries: string[];
  count: number;
  concurrency: number;
  timeMsMax: number;
};
const headers = { authorization: 'Bearer acme-dev-key', 'content-type': 'application/json' };
const summary = await measureLatency(
  async (i) => {
    const body = JSON.stringify({ query: queries[i % queries.length], topK: 10 });
    const res = await fetch(`${url}/v1/search`, { method: 'POST', headers, body });
    if (res.status !== 200) throw new Error(`search failed: ${res.status}`);
    await res.arrayBuffer();
  },
  { count, concurrency, timeMsMax },
);
process.stdout.write(JSON.stringify(summary));
