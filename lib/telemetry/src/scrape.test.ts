import { describe, expect, it } from 'vitest';
import { parseMetricNames } from './scrape.ts';

describe('scrape', () => {
  it('scrape - families come from TYPE lines and series from samples, histogram suffixes included', () => {
    const text = [
      '# HELP a_total A.',
      '# TYPE a_total counter',
      '# HELP h_seconds H.',
      '# TYPE h_seconds histogram',
      'h_seconds_bucket{le="0.1",region="x"} 1',
      'h_seconds_sum{region="x"} 0.05',
      'h_seconds_count 1',
      '',
    ].join('\n');
    expect([...parseMetricNames(text)].sort()).toEqual([
      'a_total',
      'h_seconds',
      'h_seconds_bucket',
      'h_seconds_count',
      'h_seconds_sum',
    ]);
  });
});
