/** PLACEHOLDER: being written; replaced before this lands. */
import type { Deliver, HandlerDeps } from './handler-deps';

/** createEmailDelivery delivers email touches. */
export function createEmailDelivery(_deps: HandlerDeps): Deliver {
  return async () => ({ status: 'retry', reason: 'not implemented yet' });
}
