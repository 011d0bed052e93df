/** PLACEHOLDER: being written; replaced before this lands. */
import type { Deliver, HandlerDeps } from './handler-deps';

/** createLetterDelivery delivers letter touches. */
export function createLetterDelivery(_deps: HandlerDeps): Deliver {
  return async () => ({ status: 'retry', reason: 'not implemented yet' });
}
