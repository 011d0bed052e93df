/**
 * Group commit: items submitted while earlier batches are being written are gathered and handed over together, so
 * a busy process pays one transaction's round trips for many items. There is no timer: an item submitted when a
 * batch slot is free is handed over in the same turn of the event loop (after the I/O callbacks of that turn, so
 * requests read together go together), and the next batch gathers while the current ones are written.
 */

/** GroupCommitOptions bound the batches: their size and how many may be written at once. */
export interface GroupCommitOptions {
  maxBatch: number;
  maxInFlight: number;
}

/** GroupCommit takes one item and answers with that item's result once its batch is done. */
export interface GroupCommit<T, R> {
  submit(item: T): Promise<R>;
}

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * createGroupCommit returns a GroupCommit that hands batches to `run`, which answers with one result per item, in
 * order. If `run` throws, every item of that batch is rejected with the error.
 */
export function createGroupCommit<T, R>(run: (items: T[]) => Promise<R[]>, opts: GroupCommitOptions): GroupCommit<T, R> {
  const queue: Pending<T, R>[] = [];
  let inFlight = 0;
  let scheduled = false;

  const schedule = () => {
    if (scheduled || inFlight >= opts.maxInFlight || queue.length === 0) return;
    scheduled = true;
    setImmediate(drain);
  };

  const drain = () => {
    scheduled = false;
    while (inFlight < opts.maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, opts.maxBatch);
      inFlight++;
      void runBatch(batch).finally(() => {
        inFlight--;
        schedule();
      });
    }
  };

  const runBatch = async (batch: Pending<T, R>[]) => {
    try {
      const results = await run(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`group commit: ${results.length} results for ${batch.length} items`);
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  };

  return {
    submit(item) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        schedule();
      });
    },
  };
}
