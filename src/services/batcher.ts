/**
 * Group commit: the database work of requests or jobs running at the same time, gathered into one statement or
 * transaction. A worker's concurrent jobs (take the lease, load the context, record the result) and an API's
 * concurrent sales each paid round trips and a commit of their own: per-statement overhead, not the work, was most of
 * their cost (BENCHMARKS.md). A batcher lets each caller still ask for its own item while one statement serves all
 * who asked at the same time.
 */
import { isTransientDbError } from './context';

/** BatchOptions bound a batcher: the most items per statement, and the most statements running at once. */
export interface BatchOptions {
  maxBatch: number;
  maxInFlight: number;
}

/**
 * DEFAULT_BATCH_OPTIONS: one statement of a kind at a time, while the next batch gathers (as a group commit does);
 * in the dispatch bench two at a time made smaller batches and cost more Postgres CPU per touch for no more speed.
 */
export const DEFAULT_BATCH_OPTIONS: BatchOptions = { maxBatch: 200, maxInFlight: 1 };

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

/**
 * createBatcher returns a function that runs `run` over the items asked for together: those asked in the same tick,
 * and those asked while `maxInFlight` runs are going. Nothing waits on a timer: an item asked for while the batcher is
 * idle goes at once. `run` answers in the order of its input and must be atomic (one statement or one transaction), so
 * that a batch that throws changed nothing. When a batch of several throws for a reason of its own (one bad item),
 * each of its items runs again alone, so only the items that fail on their own fail, never a whole batch of unrelated
 * jobs. A transient database error (a lost connection, a deadlock: isTransientDbError) rejects the whole batch.
 */
export function createBatcher<I, O>(
  run: (items: I[]) => Promise<O[]>,
  o: BatchOptions = DEFAULT_BATCH_OPTIONS,
): (item: I) => Promise<O> {
  const waiting: Pending<I, O>[] = [];
  let inFlight = 0;
  let flushScheduled = false;

  const runChecked = async (items: I[]): Promise<O[]> => {
    const results = await run(items);
    if (results.length !== items.length)
      throw new Error(`batcher: ${results.length} results for ${items.length} items`);
    return results;
  };

  const runBatch = async (batch: Pending<I, O>[]): Promise<void> => {
    try {
      const results = await runChecked(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(results[i] as O));
    } catch (err) {
      // Alone, an item fails the same way; and when the database is away, trying each item alone would only hold
      // the batcher up for each in turn. Their callers retry, with backoff.
      if (batch.length === 1 || isTransientDbError(err)) return batch.forEach((p) => p.reject(err));
      for (const p of batch) {
        try {
          p.resolve((await runChecked([p.item]))[0] as O);
        } catch (alone) {
          p.reject(alone);
        }
      }
    }
  };

  const flush = (): void => {
    flushScheduled = false;
    while (waiting.length > 0 && inFlight < o.maxInFlight) {
      inFlight++;
      runBatch(waiting.splice(0, o.maxBatch)).finally(() => {
        inFlight--;
        flush();
      });
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      if (!flushScheduled && inFlight < o.maxInFlight) {
        flushScheduled = true;
        setImmediate(flush);
      }
    });
}
