/** PLACEHOLDER: being written; replaced before this lands. */
import type { Deliver, HandlerDeps } from './handler-deps';

/** createNewsletterDelivery delivers newsletter touches. */
export function createNewsletterDelivery(_deps: HandlerDeps): Deliver {
  return async () => ({ status: 'retry', reason: 'not implemented yet' });
}

/** createNewsletterMaintenance returns the periodic newsletter fan-out. */
export function createNewsletterMaintenance(_deps: HandlerDeps) {
  return { newsletters: async () => undefined };
}
