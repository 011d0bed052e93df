/**
 * The import queue: producers add one job per stored upload (job id = import id); the worker runs the import from
 * its committed progress, so a retried or stalled-and-restarted job resumes where the last batch ended.
 */
import { Queue, type ConnectionOptions, type Job } from 'bullmq';
import { listStalledImports } from '../db/repositories/import.repository';
import type { ServiceContext } from '../services/context';
import { failImport, processImport } from '../services/import.service';
import { IMPORT_JOB_OPTIONS, QUEUES, type ImportJob } from './contract';
import type { HandlerDeps } from './handler-deps';

/** ImportEnqueuer hands a stored import to the workers. */
export interface ImportEnqueuer {
  enqueue(importId: string): Promise<void>;
  close(): Promise<void>;
}

/** enqueueImport adds the job of an import; adding it again while it exists does nothing. */
export async function enqueueImport(queue: Queue, importId: string): Promise<void> {
  await queue.add('import', { importId } satisfies ImportJob, { ...IMPORT_JOB_OPTIONS, jobId: importId });
}

/** createImportEnqueuer opens a producer on the import queue (for processes that run no workers, like the API). */
export function createImportEnqueuer(connection: ConnectionOptions, prefix: string): ImportEnqueuer {
  const queue = new Queue(QUEUES.import, { connection, prefix });
  return {
    enqueue: (importId) => enqueueImport(queue, importId),
    close: () => queue.close(),
  };
}

/**
 * requeueLostImports adds back the job of every queued or running import that has not moved for `lostAfterMs` and has
 * no job in Redis (Redis flushed or restarted, or down when it was posted): the import then resumes from its
 * committed progress. An import the command line runs, with no job, moves with every batch, so it is left alone.
 * Returns how many it added.
 */
export async function requeueLostImports(ctx: ServiceContext, queue: Queue, lostAfterMs: number): Promise<number> {
  let added = 0;
  for (const id of await listStalledImports(ctx.db, new Date(ctx.clock.now().getTime() - lostAfterMs))) {
    if ((await queue.getJobState(id)) !== 'unknown') continue;
    await enqueueImport(queue, id);
    added++;
  }
  if (added > 0) ctx.log.warn({ count: added }, 'queued again imports whose jobs were lost');
  return added;
}

/** createImportProcessor runs import jobs; after the last attempt the import is marked failed with the reason. */
export function createImportProcessor(deps: HandlerDeps): (job: Job<ImportJob>) => Promise<void> {
  return async (job) => {
    const { importId } = job.data;
    try {
      await processImport(deps.ctx, importId, {
        onProgress: (p) => {
          job
            .updateProgress({ salesDone: p.salesDone, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal })
            .catch(() => undefined);
        },
      });
    } catch (err) {
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade + 1 >= attempts) await failImport(deps.ctx, importId, (err as Error).message);
      throw err;
    }
  };
}
