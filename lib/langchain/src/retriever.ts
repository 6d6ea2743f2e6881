/**
 * @module retriever
 * memmesh as a LangChain.js retriever: `invoke(query)` searches the tenant's memories
 * (through @memmesh/client, so with its retries and read-your-writes) and answers LangChain
 * Documents whose pageContent is the memory's text and whose metadata keeps its id, version,
 * score, scope and metadata. A vector store is not offered: memmesh embeds on write itself,
 * so LangChain's embeddings would have nothing to do.
 */
import { Document } from '@langchain/core/documents';
import { BaseRetriever, type BaseRetrieverInput } from '@langchain/core/retrievers';
import type { Filter, MemmeshClient } from '@memmesh/client';

export interface MemmeshRetrieverOptions extends BaseRetrieverInput {
  client: MemmeshClient;
  /** Documents per query, 1 to 50; 4, LangChain's usual, when absent. */
  topK?: number;
  /** Metadata and scope filters applied to every search. */
  filter?: Filter;
}

export const DEFAULT_RETRIEVER_TOP_K = 4;

export class MemmeshRetriever extends BaseRetriever {
  lc_namespace = ['memmesh', 'retrievers'];
  private readonly client: MemmeshClient;
  private readonly topK: number;
  private readonly filter: Filter | undefined;

  constructor(options: MemmeshRetrieverOptions) {
    super(options);
    this.client = options.client;
    this.topK = options.topK ?? DEFAULT_RETRIEVER_TOP_K;
    this.filter = options.filter;
  }

  static override lc_name() {
    return 'MemmeshRetriever';
  }

  override async _getRelevantDocuments(query: string): Promise<Document[]> {
    const { results } = await this.client.search({
      query,
      topK: this.topK,
      ...(this.filter ? { filter: this.filter } : {}),
    });
    return results.map(
      (hit) =>
        new Document({
          id: hit.id,
          pageContent: hit.text,
          metadata: { ...hit.metadata, id: hit.id, version: hit.version, score: hit.score, scope: hit.scope },
        }),
    );
  }
}
