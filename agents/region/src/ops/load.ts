/**
 * @module load
 * The load on this agent's shards and tenants, as the agent itself sees it, and what it does
 * about too much of it (DESIGN §8, #16):
 *
 * - every search's shard queries are counted and timed per shard (sent, answered, in flight)
 *   and per tenant, and every applied event per shard and per tenant, over a sliding window;
 * - a shard or tenant above a configured rate, or a shard whose p99 is above its budget, is
 *   **hot**: shown to the operator (`GET /v1/admin/load`) and as the `memmesh_hot` gauge
 *   that the chart's PrometheusRule alerts on;
 * - a search is **shed** before it asks any shard when its tenant already has too many
 *   searches in flight here (one tenant's hot query cannot take every slot), or when a shard
 *   it needs is saturated: too many queries in flight, or more queued work (queries in flight
 *   × the shard's median time) than the budget, so that the new one would likely time out. Shedding answers 503 with a Retry-After at once, rather than queueing without
 *   bound until every caller times out; the gateway then tries another region holding the
 *   tenant, and a client that allows it gets the last cached answer instead (max-stale).
 *
 * Counts are this agent's: with several agents per region, the metrics add up in Prometheus,
 * and each agent sheds by what it sends.
 */
import { ErrorCode, MeshError } from '@memmesh/core';

export interface LoadConfig {
  /** Searches of one tenant in flight at once on this agent, above which more are shed. */
  tenantSearchesInFlightMax: number;
  /** Shard queries in flight to one shard from this agent, above which new searches are shed. */
  shardQueriesInFlightMax: number;
  /**
   * A new search is shed when the queries already in flight to a shard, at the shard's recent
   * median time each, would keep it waiting longer than this: it would likely time out anyway.
   */
  shardQueryWaitBudgetMs: number;
  /** Hot thresholds: rates over the window, per second. */
  hotShardQueriesPerSecond: number;
  hotShardAppliesPerSecond: number;
  hotTenantQueriesPerSecond: number;
  hotTenantAppliesPerSecond: number;
  /** A shard whose p99 is above this is hot (an early warning below the shedding budget). */
  hotShardP99Ms: number;
}

/** The window rates and p99s are taken over, in one-second buckets. */
export const LOAD_WINDOW_S = 10;
/** Latencies kept per shard for its p99: the newest, within the window. */
const LATENCY_SAMPLES_MAX = 512;
/** How long a computed quantile of a shard's latencies stands before it is computed again. */
const QUANTILE_REUSE_MS = 100;
/** Tenants reported by the operator view: the busiest. */
export const LOAD_TENANTS_REPORTED_MAX = 50;
/** Tenants tracked at once; the idlest are forgotten first (their counts are only rates). */
const TENANTS_TRACKED_MAX = 10_000;
/** What a shed search asks its client to wait: a shard's queue drains in moments. */
export const SHED_RETRY_AFTER_MS = 1_000;

/** Events per second over the last LOAD_WINDOW_S seconds, in one-second buckets. */
class WindowRate {
  readonly #counts = new Array<number>(LOAD_WINDOW_S).fill(0);
  #second = 0;

  add(nowS: number, n = 1): void {
    this.#roll(nowS);
    this.#counts[nowS % LOAD_WINDOW_S] = (this.#counts[nowS % LOAD_WINDOW_S] ?? 0) + n;
  }

  perSecond(nowS: number): number {
    this.#roll(nowS);
    return this.#counts.reduce((a, b) => a + b, 0) / LOAD_WINDOW_S;
  }

  #roll(nowS: number): void {
    // Bounded: at most LOAD_WINDOW_S buckets are cleared, however long it was idle.
    const from = Math.max(this.#second + 1, nowS - LOAD_WINDOW_S + 1);
    for (let s = from; s <= nowS; s++) this.#counts[s % LOAD_WINDOW_S] = 0;
    this.#second = Math.max(this.#second, nowS);
  }
}

/**
 * The newest latencies of a shard with their times (a ring of LATENCY_SAMPLES_MAX): quantiles
 * over those within the window. A search asks for its shards' medians at admission, so a
 * quantile is kept for QUANTILE_REUSE_MS or until a twentieth of the samples are new: sorting
 * 512 samples for each of four shards at every search was a tenth of a busy agent's time, for
 * a figure that moves over seconds.
 */
class LatencyWindow {
  readonly #ms = new Float64Array(LATENCY_SAMPLES_MAX);
  readonly #at = new Float64Array(LATENCY_SAMPLES_MAX);
  #count = 0;
  #next = 0;
  /** Samples added so far: a quantile is computed again once a twentieth of the window is new. */
  #added = 0;
  readonly #cached = new Map<number, { atMs: number; added: number; value: number }>();

  add(nowMs: number, ms: number): void {
    this.#ms[this.#next] = ms;
    this.#at[this.#next] = nowMs;
    this.#next = (this.#next + 1) % LATENCY_SAMPLES_MAX;
    this.#count = Math.min(this.#count + 1, LATENCY_SAMPLES_MAX);
    this.#added++;
  }

  p99(nowMs: number): number {
    return this.quantile(nowMs, 0.99);
  }

  quantile(nowMs: number, q: number): number {
    const cached = this.#cached.get(q);
    if (
      cached !== undefined &&
      nowMs >= cached.atMs &&
      nowMs - cached.atMs < QUANTILE_REUSE_MS &&
      this.#added - cached.added < Math.max(1, this.#count / 20)
    ) {
      return cached.value;
    }
    const since = nowMs - LOAD_WINDOW_S * 1_000;
    const recent: number[] = [];
    for (let i = 0; i < this.#count; i++) {
      if ((this.#at[i] as number) >= since) recent.push(this.#ms[i] as number);
    }
    recent.sort((a, b) => a - b);
    const value = recent.length === 0 ? 0 : (recent[Math.max(0, Math.ceil(q * recent.length) - 1)] as number);
    this.#cached.set(q, { atMs: nowMs, added: this.#added, value });
    return value;
  }
}

interface ShardLoad {
  origin: string;
  shard: string;
  queries: WindowRate;
  applies: WindowRate;
  latency: LatencyWindow;
  inFlight: number;
  shed: number;
}

interface TenantLoad {
  queries: WindowRate;
  applies: WindowRate;
  inFlight: number;
  shed: number;
  lastSeenMs: number;
}

export interface ShardLoadReport {
  origin: string;
  shard: string;
  queriesPerSecond: number;
  appliesPerSecond: number;
  inFlight: number;
  p99Ms: number;
  /** Searches shed for this shard since the agent started. */
  shed: number;
  hot: boolean;
  /** Why it is hot: the figures above their thresholds. */
  reasons: string[];
}

export interface TenantLoadReport {
  tenant: string;
  queriesPerSecond: number;
  appliesPerSecond: number;
  inFlight: number;
  shed: number;
  hot: boolean;
  reasons: string[];
}

export interface LoadReport {
  windowSeconds: number;
  shards: ShardLoadReport[];
  /** The busiest tenants (at most LOAD_TENANTS_REPORTED_MAX), hot ones first. */
  tenants: TenantLoadReport[];
}

/** One search's hold on its slots: `done` for each shard as it answers, `end` once. */
export interface SearchLoad {
  shardDone(shard: string, ms: number): void;
  end(): void;
}

/** What the tracker tells the metrics as it happens (the rest is read from `report()`). */
export interface LoadHooks {
  shardQuery(origin: string, shard: string, seconds: number): void;
  shed(reason: 'tenant' | 'shard'): void;
  stale(): void;
}

export class LoadTracker {
  readonly #config: LoadConfig;
  readonly #hooks: LoadHooks | undefined;
  readonly #now: () => number;
  readonly #shards = new Map<string, ShardLoad>();
  readonly #tenants = new Map<string, TenantLoad>();

  constructor(config: LoadConfig, hooks?: LoadHooks, now: () => number = Date.now) {
    this.#config = config;
    this.#hooks = hooks;
    this.#now = now;
  }

  /** A search answered with an earlier answer instead of its shards'. */
  servedStale(): void {
    this.#hooks?.stale();
  }

  /**
   * Takes a search's slots (its tenant's, and one per shard it asks), or throws the 503 that
   * sheds it. The caller must `end()` what it was given, answered or not.
   */
  admitSearch(tenant: string, origin: string, shards: readonly string[]): SearchLoad {
    const nowMs = this.#now();
    const t = this.#tenant(tenant, nowMs);
    const loads = shards.map((shard) => this.#shard(origin, shard));
    const nowS = Math.floor(nowMs / 1_000);
    // A tenant's rate is what it asks for, shed or not: that demand is what makes it hot.
    t.queries.add(nowS);
    const refusal = this.#refusal(t, loads, nowMs);
    if (refusal) {
      t.shed++;
      for (const load of loads) load.shed++;
      this.#hooks?.shed(refusal.reason);
      throw new MeshError(ErrorCode.Unavailable, refusal.message, {
        retryAfterMs: SHED_RETRY_AFTER_MS,
        details: { shed: true },
      });
    }
    t.inFlight++;
    const open = new Set(shards);
    for (const load of loads) {
      load.inFlight++;
      load.queries.add(nowS);
    }
    const release = (shard: string) => {
      if (!open.delete(shard)) return;
      (this.#shards.get(keyOf(origin, shard)) as ShardLoad).inFlight--;
    };
    let ended = false;
    return {
      shardDone: (shard, ms) => {
        if (open.has(shard)) {
          this.#shards.get(keyOf(origin, shard))?.latency.add(this.#now(), ms);
          this.#hooks?.shardQuery(origin, shard, ms / 1_000);
        }
        release(shard);
      },
      end: () => {
        if (ended) return;
        ended = true;
        for (const shard of [...open]) release(shard);
        t.inFlight--;
      },
    };
  }

  /** An event applied to a view: counted for its shard and its tenant. */
  applied(origin: string, shard: string, tenant: string): void {
    const nowMs = this.#now();
    const nowS = Math.floor(nowMs / 1_000);
    this.#shard(origin, shard).applies.add(nowS);
    this.#tenant(tenant, nowMs).applies.add(nowS);
  }

  report(): LoadReport {
    const nowMs = this.#now();
    const shards = [...this.#shards.values()].map((s) => this.#shardReport(s, nowMs));
    const tenants = [...this.#tenants.entries()]
      .map(([tenant, t]) => this.#tenantReport(tenant, t, nowMs))
      .sort((a, b) => Number(b.hot) - Number(a.hot) || b.queriesPerSecond - a.queriesPerSecond)
      .slice(0, LOAD_TENANTS_REPORTED_MAX);
    return { windowSeconds: LOAD_WINDOW_S, shards, tenants };
  }

  #refusal(
    t: TenantLoad,
    loads: ShardLoad[],
    nowMs: number,
  ): { reason: 'tenant' | 'shard'; message: string } | undefined {
    const c = this.#config;
    if (t.inFlight >= c.tenantSearchesInFlightMax) {
      const message = `the tenant has ${t.inFlight} searches in flight here (at most ${c.tenantSearchesInFlightMax}); searches are shed`;
      return { reason: 'tenant', message };
    }
    for (const load of loads) {
      if (load.inFlight >= c.shardQueriesInFlightMax) {
        const message = `shard ${load.shard} has ${load.inFlight} queries in flight (at most ${c.shardQueriesInFlightMax}); searches are shed`;
        return { reason: 'shard', message };
      }
      // Slow with nothing queued is a slow query, not saturation: only a queue is shed, and
      // only while it lasts (the estimate falls as the queue drains, whatever the window holds).
      if (load.inFlight === 0) continue;
      const waitMs = load.inFlight * load.latency.quantile(nowMs, 0.5);
      if (waitMs > c.shardQueryWaitBudgetMs) {
        const message = `shard ${load.shard} has ${load.inFlight} queries in flight, about ${Math.round(waitMs)} ms of work (more than ${c.shardQueryWaitBudgetMs}); searches are shed`;
        return { reason: 'shard', message };
      }
    }
    return undefined;
  }

  #shardReport(s: ShardLoad, nowMs: number): ShardLoadReport {
    const c = this.#config;
    const nowS = Math.floor(nowMs / 1_000);
    const queriesPerSecond = s.queries.perSecond(nowS);
    const appliesPerSecond = s.applies.perSecond(nowS);
    const p99Ms = s.latency.p99(nowMs);
    const reasons = [
      ...(queriesPerSecond > c.hotShardQueriesPerSecond ? [`queries/s ${queriesPerSecond}`] : []),
      ...(appliesPerSecond > c.hotShardAppliesPerSecond ? [`applies/s ${appliesPerSecond}`] : []),
      ...(p99Ms > c.hotShardP99Ms ? [`p99 ${Math.round(p99Ms)} ms`] : []),
      ...(s.inFlight >= c.shardQueriesInFlightMax ? [`in flight ${s.inFlight}`] : []),
    ];
    const { origin, shard, inFlight, shed } = s;
    return {
      origin,
      shard,
      queriesPerSecond,
      appliesPerSecond,
      inFlight,
      p99Ms,
      shed,
      hot: reasons.length > 0,
      reasons,
    };
  }

  #tenantReport(tenant: string, t: TenantLoad, nowMs: number): TenantLoadReport {
    const c = this.#config;
    const nowS = Math.floor(nowMs / 1_000);
    const queriesPerSecond = t.queries.perSecond(nowS);
    const appliesPerSecond = t.applies.perSecond(nowS);
    const reasons = [
      ...(queriesPerSecond > c.hotTenantQueriesPerSecond ? [`queries/s ${queriesPerSecond}`] : []),
      ...(appliesPerSecond > c.hotTenantAppliesPerSecond ? [`applies/s ${appliesPerSecond}`] : []),
      ...(t.inFlight >= c.tenantSearchesInFlightMax ? [`in flight ${t.inFlight}`] : []),
    ];
    const { inFlight, shed } = t;
    return { tenant, queriesPerSecond, appliesPerSecond, inFlight, shed, hot: reasons.length > 0, reasons };
  }

  #shard(origin: string, shard: string): ShardLoad {
    const key = keyOf(origin, shard);
    let load = this.#shards.get(key);
    if (load === undefined) {
      load = {
        origin,
        shard,
        queries: new WindowRate(),
        applies: new WindowRate(),
        latency: new LatencyWindow(),
        inFlight: 0,
        shed: 0,
      };
      this.#shards.set(key, load);
    }
    return load;
  }

  #tenant(tenant: string, nowMs: number): TenantLoad {
    let load = this.#tenants.get(tenant);
    if (load === undefined) {
      if (this.#tenants.size >= TENANTS_TRACKED_MAX) this.#forgetIdlest();
      load = {
        queries: new WindowRate(),
        applies: new WindowRate(),
        inFlight: 0,
        shed: 0,
        lastSeenMs: nowMs,
      };
      this.#tenants.set(tenant, load);
    }
    load.lastSeenMs = nowMs;
    return load;
  }

  /** Drops the tenant seen longest ago with nothing in flight (a Map keeps insertion order). */
  #forgetIdlest(): void {
    let idlest: string | undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [tenant, t] of this.#tenants) {
      if (t.inFlight === 0 && t.lastSeenMs < oldest) {
        oldest = t.lastSeenMs;
        idlest = tenant;
      }
    }
    if (idlest !== undefined) this.#tenants.delete(idlest);
  }
}

function keyOf(origin: string, shard: string): string {
  return `${origin}/${shard}`;
}

/** True for the 503 that `admitSearch` sheds with (a stale answer may stand in for it). */
export function isShed(err: unknown): boolean {
  return err instanceof MeshError && (err.details as { shed?: unknown } | undefined)?.shed === true;
}
