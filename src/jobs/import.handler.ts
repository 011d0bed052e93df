/** PLACEHOLDER: being written; replaced before this lands. */
import type { Job } from 'bullmq';
import type { HandlerDeps } from './handler-deps';

/** createImportProcessor runs import jobs. */
export function createImportProcessor(_deps: HandlerDeps): (job: Job) => Promise<void> {
  return async () => undefined;
}
