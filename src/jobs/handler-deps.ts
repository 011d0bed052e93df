/** What every job handler may use; built once by the worker's composition root. */
import type { EmailChannel } from '../channels/email.channel';
import type { Paper } from '../channels/letter.channel';
import type { ServiceContext } from '../services/context';
import type { DispatchSettings } from '../services/dispatch.service';
import type { LeasedTouch } from '../db/repositories/dispatch.repository';
import type { TouchResult } from '../db/repositories/dispatch.repository';
import type { Queues } from './queues';

/** HandlerDeps are the services, channels and queues handlers use. */
export interface HandlerDeps {
  ctx: ServiceContext;
  queues: Queues;
  email: EmailChannel;
  paper: Paper;
  dispatch: DispatchSettings;
}

/**
 * Delivery is how delivering a touch ended: a final TouchResult, or `retry` for a transient failure (the job is
 * retried with backoff; after the last attempt the touch is recorded failed with the reason).
 */
export type Delivery = TouchResult | { status: 'retry'; reason: string };

/** Deliver delivers one leased touch. Expected failures are returned as values; a throw means a bug. */
export type Deliver = (touch: LeasedTouch) => Promise<Delivery>;
