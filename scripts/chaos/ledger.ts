/**
 * @module chaos/ledger
 * The checker of the fault suite, as Jepsen-style tests keep one: every write the service
 * acknowledged (id and version, from its 202), and after healing, a read of everything back —
 * each id by GET (the log), the whole tenant by listing (the views) and the views' own counts —
 * reporting the acknowledged writes that are **lost** (missing, or older than acknowledged),
 * **duplicated** (an id listed more than once, or views counting more documents than exist)
 * and **unexpected** (ids that were never written).
 */

export interface Verdict {
  acked: number;
  lost: string[];
  duplicated: string[];
  unexpected: string[];
  /** Documents the views count for the tenant, and the distinct ids they list. */
  viewDocs: number;
  listed: number;
}

/** What the checker reads the service through (HTTP, with the tenant's key). */
export interface ReadBack {
  /** GET /v1/memories/<id>: its version, or undefined when 404. */
  version(id: string): Promise<number | undefined>;
  /** GET /v1/memories, every page: the ids in the order listed. */
  listIds(): Promise<string[]>;
  /** GET /v1/stats: documents in the tenant's views, summed over shards. */
  viewDocs(): Promise<number>;
}

export class AckLedger {
  /** Every id a writer tried, acknowledged or not. */
  readonly attempted = new Set<string>();
  /** The highest version acknowledged per id. */
  readonly #acked = new Map<string, number>();

  tried(id: string): void {
    this.attempted.add(id);
  }

  ack(id: string, version: number): void {
    this.#acked.set(id, Math.max(version, this.#acked.get(id) ?? 0));
  }

  get ackedCount(): number {
    return this.#acked.size;
  }

  async verify(read: ReadBack, concurrency = 8): Promise<Verdict> {
    const acked = [...this.#acked.entries()];
    const lost: string[] = [];
    // Bounded: each worker takes ids off the list until it is empty.
    const queue = [...acked];
    const worker = async () => {
      for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
        const [id, version] = next;
        const stored = await read.version(id);
        if (stored === undefined || stored < version) lost.push(id);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const listed = await read.listIds();
    const seen = new Set<string>();
    const duplicated = new Set<string>();
    for (const id of listed) {
      if (seen.has(id)) duplicated.add(id);
      seen.add(id);
    }
    const unexpected = [...seen].filter((id) => !this.attempted.has(id));
    // Listed-but-not-acknowledged is fine (a write whose answer was lost may have landed); an
    // acknowledged id the views do not list is lost from them even if the log has it.
    for (const [id] of acked) if (!seen.has(id) && !lost.includes(id)) lost.push(id);
    const viewDocs = await read.viewDocs();
    if (viewDocs > seen.size) duplicated.add(`(views count ${viewDocs} documents for ${seen.size} ids)`);
    return {
      acked: acked.length,
      lost: lost.sort(),
      duplicated: [...duplicated].sort(),
      unexpected: unexpected.sort(),
      viewDocs,
      listed: seen.size,
    };
  }
}
