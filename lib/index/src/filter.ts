/**
 * @module filter
 * Compiles a search `Filter` into a predicate over a document's metadata and scope: every
 * given metadata key and every given scope field must be equal. Filters are plain equality
 * tests because metadata values are scalars (see `MetadataSchema`), so no operator language
 * is needed.
 */
import type { Filter, Metadata, Scope } from '@memmesh/core';

export type FilterPredicate = (metadata: Metadata, scope: Scope) => boolean;

/**
 * The filter as a predicate, or undefined when it constrains nothing, so the search can
 * skip filtering altogether. The filter's entries are listed once here rather than for
 * every document the predicate is applied to: a selective query tests every document.
 */
export function compileFilter(filter: Filter | undefined): FilterPredicate | undefined {
  const metadata = definedEntries(filter?.metadata);
  const scope = definedEntries(filter?.scope);
  if (metadata.length === 0 && scope.length === 0) return undefined;
  return (docMetadata, docScope) => allEqual(metadata, docMetadata) && allEqual(scope, docScope);
}

function allEqual(wanted: readonly [string, unknown][], actual: Record<string, unknown>): boolean {
  for (const [key, value] of wanted) {
    if (actual[key] !== value || !Object.hasOwn(actual, key)) return false;
  }
  return true;
}

// Undefined values are dropped: `{ scope: { userId: undefined } }` arrives from optional
// fields spread into a filter, and the caller means "no constraint", not "must be absent".
function definedEntries(record: Record<string, unknown> | undefined): [string, unknown][] {
  if (record === undefined) return [];
  return Object.entries(record).filter(([, value]) => value !== undefined);
}
