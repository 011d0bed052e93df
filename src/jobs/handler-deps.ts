/** What every job handler may use; built once by the worker's composition root. */
import type { EmailChannel } from '../channels/email.channel';
import type { Paper } from '../channels/letter.channel';
import type { ServiceContext } from '../services/context';
import type { DispatchSettings } from '../services/dispatch.service';
import type { LeasedTouch } from '../db/repositories/touch-lifecycle.repository';
import type { TouchResult } from '../db/repositories/touch-lifecycle.repository';
import type { DeliveryBatches } from './delivery-batches';
import type { Queues } from './queues';

/** HandlerDeps are the services, channels and queues handlers use. */
export interface HandlerDeps {
  ctx: ServiceContext;
  queues: Queues;
  email: EmailChannel;
  /** Every letter's paper (RAPPORT_PAPER); null: by the destination country. */
  paper: Paper | null;
  dispatch: DispatchSettings;
  /** The batched database steps of touch jobs. */
  batches: DeliveryBatches;
}

/**
 * Delivery is how delivering a touch ended: a final TouchResult, or `retry` for a transient failure (the job is
 * retried with backoff; after the last attempt the touch is recorded failed with the reason).
 */
export type Delivery = (TouchResult & { afterRecord?: AfterRecord }) | { status: 'retry'; reason: string };

/**
 * AfterRecord runs once the result is recorded and the lease dropped: work that must not race the recording, such
 * as handing the touch to another channel's queue (whose worker would find the lease still held) or filing a letter
 * into a print batch (which marking the batch mailed must not overwrite). If it throws, the job is retried.
 */
export type AfterRecord = () => Promise<void>;

/** Deliver delivers one leased touch. Expected failures are returned as values; a throw means a bug. */
export type Deliver = (touch: LeasedTouch) => Promise<Delivery>;

/**
 * templateRefused is what a delivery does when its message cannot be rendered: a template that is wrong (or a letter
 * that cannot fit) fails the contact, since no retry will fix it; a render that only ran out of time is retried.
 */
export function templateRefused(err: { message: string; transient?: boolean }, what: string): Delivery {
  const reason = `${what}: ${err.message}`;
  return err.transient ? { status: 'retry', reason } : { status: 'failed', reason };
}
