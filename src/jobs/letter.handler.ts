/**
 * Delivering a letter touch: decide whether a letter can (still) go, render it to a one-page PDF, and file it into
 * today's print batch. The touch stays `queued` in the batch until the batch is marked mailed; the reconciler leaves
 * filed letters alone. A customer who can only be emailed now gets the step by email instead.
 */
import { LetterTooLongError } from '../channels/letter.channel';
import { TemplateError } from '../channels/templates';
import { eligibility } from '../domain/eligibility';
import { flagForCleanup } from '../services/customer.service';
import { loadTouchContext } from '../services/touch-context.service';
import { sendsHeldReason } from '../services/business-identity.service';
import * as letters from '../services/letter.service';
import { enqueueTouches } from './queues';
import { templateRefused, type Deliver, type HandlerDeps } from './handler-deps';

/** createLetterDelivery delivers letter touches: render, store the PDF, file into the day's print batch. */
export function createLetterDelivery(deps: HandlerDeps): Deliver {
  const { ctx } = deps;
  return async (touch) => {
    // A job run again for a letter already in a batch (a duplicate job) must not render or file it twice.
    const filed = touch.letterBatchId ? await letters.filedIn(ctx, touch.id) : null;
    if (filed) return { status: 'queued', reason: `in ${letters.batchLabel(filed)}` };
    const tc = await loadTouchContext(ctx, touch, deps.batches.contextRows);
    if (!tc) return { status: 'skipped', reason: 'customer_gone' };
    const { customer } = tc;
    // A personal letter of the later years goes by post wherever a postal address is known, as it was planned.
    const decision = eligibility(customer, 'letter', { preferLetter: tc.step?.preferLetter });
    // A paused plan resumes later: the letter goes back to the schedule, which skips paused customers.
    if (decision.action === 'wait') return { status: 'scheduled', reason: decision.reason };
    if (decision.action === 'skip') {
      if (decision.cleanup) await flagForCleanup(ctx, customer.id);
      return { status: decision.status, reason: decision.reason };
    }
    // Nothing goes out in the name of a business with no name; the dispatcher holds the rest until it has one.
    if (sendsHeldReason(tc.identity)) return { status: 'scheduled', reason: 'held: business name not set' };
    if (decision.action === 'reroute') {
      // Handed to the email queue only once recorded: before that the email worker would find this lease held.
      const reason = customer.address?.lines.length ? 'customer now prefers email' : 'no postal address: sent by email';
      return {
        status: 'queued',
        channel: 'email',
        reason,
        afterRecord: () =>
          enqueueTouches(deps.queues, [{ id: touch.id, channel: 'email', dueAt: ctx.clock.now() }], ctx.clock.now()),
      };
    }
    if (!tc.step?.template) return { status: 'failed', reason: `step ${touch.step} has no letter template` };
    let rendered;
    try {
      rendered = await letters.renderTouchLetter(ctx, tc, deps.paper);
    } catch (err) {
      // Templates are checked when saved, but a long real name or address can still overflow: no retry will fix it.
      if (err instanceof LetterTooLongError || err instanceof TemplateError) return templateRefused(err, 'letter');
      throw err;
    }
    return {
      status: 'queued',
      reason: 'letter rendered; waiting for its print batch',
      content: rendered.content,
      letterPdf: rendered.pdf,
      // Filed only once recorded, so marking the batch mailed cannot be overwritten by this job's own recording.
      afterRecord: async () => {
        const batch = await deps.batches.fileLetter(touch.id, rendered.content.paper);
        if (batch) ctx.log.debug({ touchId: touch.id, batchId: batch.id }, 'letter filed into print batch');
      },
    };
  };
}
