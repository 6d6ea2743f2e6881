/**
 * @module search-plan
 * Chooses between the HNSW graph and an exact scan for one tenant's query, so that a
 * filtered search never misses a matching document.
 *
 * HNSW returns chunks, not documents, and knows nothing of filters: filtering and folding
 * chunks into documents both happen after the graph search and can leave fewer than topK
 * documents. So the graph is asked for `topK × oversampleFactor ÷ passFraction` candidates,
 * doubled while that is not enough. Once the candidate count reaches the graph's size the
 * graph has nothing more to offer, and a selective filter would need nearly the whole graph
 * anyway: both cases scan the matching documents' stored vectors exactly instead.
 */
import type { Filter } from '@memmesh/core';
import { isExpired } from '../contract.ts';
import { compileFilter } from '../filter.ts';
import type { DocPredicate, ScoredDoc, TenantIndex } from './tenant-index.ts';

export interface SearchPlanConfig {
  /** Graph candidates per wanted document before any filter is accounted for. */
  oversampleFactor: number;
  /** At or below this many matching chunks, a filtered search scans exactly. */
  exactScanChunksMax: number;
  /** Below this share of the graph's chunks matching, a filter counts as selective. */
  filterPassFractionMin: number;
}

export function searchTenant(
  tenant: TenantIndex,
  query: Float32Array,
  topK: number,
  filter: Filter | undefined,
  config: SearchPlanConfig,
  nowMs: number,
): ScoredDoc[] {
  const live = livePredicate(tenant, nowMs);
  const accept = both(toPredicate(filter), live);
  if (accept === undefined) return searchUnfiltered(tenant, query, topK, config, undefined);
  // Expiry alone is not a selective filter: most documents are usually unexpired, so the
  // graph is asked as if unfiltered, with expired documents dropped from its candidates
  // (before topK); when too many have expired, the doubling ends in the exact scan.
  if (toPredicate(filter) === undefined) return searchUnfiltered(tenant, query, topK, config, live);
  const matching = tenant.collect(accept);
  const matchingChunks = matching.reduce((sum, record) => sum + record.keys.length, 0);
  if (matchingChunks === 0) return [];
  const passFraction = matchingChunks / tenant.chunkCount;
  if (matchingChunks <= config.exactScanChunksMax || passFraction < config.filterPassFractionMin) {
    return tenant.exact(query, topK, matching);
  }
  const wanted = Math.min(topK, matching.length);
  const hits = searchGraph(tenant, query, { topK, wanted, passFraction, accept }, config);
  return hits ?? tenant.exact(query, topK, matching);
}

function searchUnfiltered(
  tenant: TenantIndex,
  query: Float32Array,
  topK: number,
  config: SearchPlanConfig,
  live: DocPredicate | undefined,
): ScoredDoc[] {
  if (tenant.indexedDocs === 0) return [];
  const wanted = Math.min(topK, tenant.indexedDocs);
  const hits = searchGraph(tenant, query, { topK, wanted, passFraction: 1, accept: live }, config);
  if (hits !== undefined) return hits;
  return tenant.exact(query, topK, live === undefined ? tenant.docs.values() : tenant.collect(live));
}

interface GraphRequest {
  topK: number;
  /**
   * Documents that must survive to stop asking for more: topK, or fewer when fewer match
   * at all (waiting for topK would only grow the candidate count up to the exact scan).
   */
  wanted: number;
  /** Share of the graph's chunks the filter accepts, 1 without a filter. */
  passFraction: number;
  accept: DocPredicate | undefined;
}

/**
 * Asks the graph for ever more candidates until `wanted` documents survive; undefined once
 * the candidate count reaches the graph's size, where only the exact scan is complete.
 */
function searchGraph(
  tenant: TenantIndex,
  query: Float32Array,
  request: GraphRequest,
  config: SearchPlanConfig,
): ScoredDoc[] | undefined {
  // Oversampling makes up for chunks folding into documents, so it need not exceed the
  // tenant's chunks per document: with one chunk each, topK candidates are topK documents.
  const chunksPerDoc = tenant.indexedDocs > 0 ? tenant.chunkCount / tenant.indexedDocs : 1;
  const oversample = Math.min(config.oversampleFactor, Math.max(1, Math.ceil(chunksPerDoc)));
  let candidates = Math.ceil((request.topK * oversample) / request.passFraction);
  // Doubling reaches the graph's size in log2(size) rounds, which bounds the loop.
  while (candidates < tenant.chunkCount) {
    const hits = tenant.approximate(query, candidates, request.accept);
    if (hits.length >= request.wanted) return hits.slice(0, request.topK);
    candidates *= 2;
  }
  return undefined;
}

/** Unexpired at `nowMs`; undefined when no document of the tenant carries an expiry. */
export function livePredicate(tenant: TenantIndex, nowMs: number): DocPredicate | undefined {
  if (tenant.expiring.size === 0) return undefined;
  return (record) => !isExpired(record.expiresAtMs, nowMs);
}

function both(a: DocPredicate | undefined, b: DocPredicate | undefined): DocPredicate | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return (record) => a(record) && b(record);
}

export function toPredicate(filter: Filter | undefined): DocPredicate | undefined {
  const predicate = compileFilter(filter);
  if (predicate === undefined) return undefined;
  return (record) => predicate(record.metadata, record.scope);
}
