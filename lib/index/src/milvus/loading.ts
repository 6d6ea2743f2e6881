/**
 * @module loading
 * Loading a collection into Milvus's memory, which searches and queries need: asking for the
 * load, waiting until Milvus reports it done, and loading again when a call finds its
 * collection released.
 */
import { isNotLoaded, type MilvusCalls, unavailable } from './calls.ts';

const LOAD_POLL_MS = 100;

/** Asks Milvus to load the collection and waits until it is loaded. */
export async function loadCollection(calls: MilvusCalls, name: string): Promise<void> {
  await calls.run('loadCollection', () => calls.client.loadCollection({ collection_name: name }));
  await waitLoaded(calls, name);
}

/**
 * `calls.run` for calls that need `collection` loaded. A collection that is not loaded
 * (released by an operator, or by a Milvus Lite restart: Lite forgets its load state, real
 * Milvus restores it) is loaded again and the call retried once; a failure after that is
 * reported as usual, retryable.
 */
export async function onLoaded<T>(
  calls: MilvusCalls,
  collection: string,
  what: string,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await calls.run(what, call);
  } catch (err) {
    if (!isNotLoaded(err)) throw err;
    await loadCollection(calls, collection);
    return await calls.run(what, call);
  }
}

/** Loading is asynchronous in Milvus; poll its state until loaded, within one call timeout. */
async function waitLoaded(calls: MilvusCalls, name: string): Promise<void> {
  const deadline = Date.now() + calls.timeoutMs;
  for (;;) {
    const state = await calls.run('getLoadState', () => calls.client.getLoadState({ collection_name: name }));
    if (String(state.state) === 'LoadStateLoaded') return;
    if (Date.now() >= deadline) {
      throw unavailable(
        `Milvus collection ${name} is not loaded after ${calls.timeoutMs} ms (${state.state})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, LOAD_POLL_MS));
  }
}
