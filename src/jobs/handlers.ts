/** The handler table: every queue and periodic task of the worker, each mapped to exactly one handler. */
import * as dispatch from '../services/dispatch.service';
import type { HandlerDeps } from './handler-deps';
import { runRetention } from '../services/retention.service';
import type { HandlerTable } from './worker';
import { runTouchJob } from './touch-job';
import { checkRedisMarker, touchQueuePort } from './queues';
import { createEmailDelivery } from './email.handler';
import { createLetterDelivery } from './letter.handler';
import { createCallDelivery, createCallMaintenance } from './call.handler';
import { createNewsletterDelivery, createNewsletterMaintenance } from './newsletter.handler';
import { createLaterYearsMaintenance } from './later-years.handler';
import { refreshRollups } from '../services/dashboard.service';
import { createImportProcessor, requeueLostImports } from './import.handler';

/** createHandlerTable builds every handler over the given dependencies. */
export function createHandlerTable(deps: HandlerDeps): HandlerTable {
  const { ctx } = deps;
  const touchQueues = touchQueuePort(deps.queues);
  return {
    queues: {
      email: runTouchJob(ctx, createEmailDelivery(deps), deps.batches),
      letter: runTouchJob(ctx, createLetterDelivery(deps), deps.batches),
      call: runTouchJob(ctx, createCallDelivery(deps), deps.batches),
      newsletter: runTouchJob(ctx, createNewsletterDelivery(deps), deps.batches),
      import: createImportProcessor(deps),
    },
    maintenance: {
      // Each run first checks that Redis kept its data; when it did not, every queued touch is queued again at once
      // (RAPPORT_REQUEUE_AFTER_MS is left for a single lost job).
      dispatch: async () => {
        const marker = await checkRedisMarker(deps.queues);
        if (marker.lost) {
          try {
            await dispatch.requeueAllQueued(ctx, touchQueues, deps.dispatch);
            await requeueLostImports(ctx, deps.queues.import, 0);
          } catch (err) {
            await marker.unset().catch(() => undefined); // ask again on the next run
            throw err;
          }
        }
        return dispatch.dispatchDueTouches(ctx, touchQueues, deps.dispatch);
      },
      // Whatever Redis lost comes back from Postgres: touches left queued, and stored imports with no job.
      reconcile: async () => ({
        touches: await dispatch.requeueLostTouches(ctx, touchQueues, deps.dispatch),
        imports: await requeueLostImports(ctx, deps.queues.import, deps.dispatch.lostAfterMs),
      }),
      retention: () => runRetention(ctx),
      ...createCallMaintenance(deps),
      ...createNewsletterMaintenance(deps),
      ...createLaterYearsMaintenance(deps),
      'report-rollup': () => refreshRollups(ctx),
    },
  };
}
