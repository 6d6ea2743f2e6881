/**
 * @module lru-cache
 * The embedded default `Cache`: an in-process LRU with a TTL per entry, bounded by both an
 * entry count and a byte budget. A `Map` iterates in insertion order, so re-inserting an
 * entry on every hit keeps the least recently used entry first, ready to evict.
 */
import type { Cache } from './types.ts';

export interface LruCacheOptions {
  /** Entries held at most; the least recently used is evicted beyond it. */
  entriesMax?: number;
  /** Bytes held at most, counted as UTF-16 code units × 2 of keys and values. */
  bytesMax?: number;
  /** Clock in milliseconds; injectable so tests can expire entries without waiting. */
  now?: () => number;
}

export const DEFAULT_LRU_CACHE_OPTIONS: Readonly<Required<Omit<LruCacheOptions, 'now'>>> = {
  entriesMax: 10_000,
  bytesMax: 64 * 1024 * 1024,
};

interface Entry {
  value: string;
  expiresAtMs: number;
  bytes: number;
}

export function createLruCache(options: LruCacheOptions = {}): Cache {
  const resolved: Required<LruCacheOptions> = { ...DEFAULT_LRU_CACHE_OPTIONS, now: Date.now, ...options };
  assertPositiveInteger('entriesMax', resolved.entriesMax);
  assertPositiveInteger('bytesMax', resolved.bytesMax);
  return new LruCache(resolved);
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`lru cache: ${name} must be a positive integer, got ${value}`);
  }
}

/** What an entry costs against `bytesMax`: JavaScript strings hold two bytes per code unit. */
function entryBytes(key: string, value: string): number {
  return (key.length + value.length) * 2;
}

class LruCache implements Cache {
  readonly kind = 'lru';
  readonly #entriesMax: number;
  readonly #bytesMax: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #closed = false;

  constructor(options: Required<LruCacheOptions>) {
    this.#entriesMax = options.entriesMax;
    this.#bytesMax = options.bytesMax;
    this.#now = options.now;
  }

  async get(key: string): Promise<string | undefined> {
    this.#assertOpen();
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() >= entry.expiresAtMs) {
      this.#remove(key, entry);
      return undefined;
    }
    // Move to the back of the insertion order: this entry is now the most recently used.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#assertOpen();
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new RangeError(`lru cache: ttlMs must be a positive finite number, got ${ttlMs}`);
    }
    const previous = this.#entries.get(key);
    if (previous !== undefined) this.#remove(key, previous);
    const bytes = entryBytes(key, value);
    // An entry over the whole budget would evict everything and still not fit; skip it,
    // as a cache may always decline to hold a value.
    if (bytes > this.#bytesMax) return;
    this.#entries.set(key, { value, expiresAtMs: this.#now() + ttlMs, bytes });
    this.#bytes += bytes;
    this.#evict();
  }

  async delete(key: string): Promise<void> {
    this.#assertOpen();
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#remove(key, entry);
  }

  async keys(prefix: string, max: number): Promise<string[]> {
    this.#assertOpen();
    const found: string[] = [];
    for (const key of this.#entries.keys()) {
      if (found.length >= max) break;
      if (key.startsWith(prefix)) found.push(key);
    }
    return found;
  }

  async close(): Promise<void> {
    this.#entries.clear();
    this.#bytes = 0;
    this.#closed = true;
  }

  /**
   * Drops least recently used entries until both limits hold. Expired entries are not swept
   * separately: they are refused on read and age out through this same path, and both
   * limits bound the memory they hold meanwhile.
   */
  #evict(): void {
    while (this.#entries.size > this.#entriesMax || this.#bytes > this.#bytesMax) {
      const oldest = this.#entries.entries().next();
      if (oldest.done === true) return;
      const [key, entry] = oldest.value;
      this.#remove(key, entry);
    }
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('lru cache: used after close');
  }
}
