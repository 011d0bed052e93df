/**
 * Delivering an email touch: load the customer and step, decide (still reachable by email? else a letter or
 * nothing), render, send, record. Expected outcomes (opted out, bounced, refused) are values; a throw means a bug.
 */
import { eligibility } from '../domain/eligibility';
import { refusalReason } from '../services/email-headers';
import { flagForCleanup, markEmailBounced } from '../services/customer.service';
import type { Customer } from '../db/repositories/customer.repository';
import type { LeasedTouch } from '../db/repositories/touch-lifecycle.repository';
import { TemplateError } from '../channels/templates';
import { loadTouchContext } from '../services/touch-context.service';
import { buildEmail, type EmailContent } from '../services/email-message.service';
import { sendsHeldReason } from '../services/business-identity.service';
import { enqueueTouches } from './queues';
import { templateRefused, type Deliver, type Delivery, type HandlerDeps } from './handler-deps';

export { buildEmail, emailMessageId, type EmailContent } from '../services/email-message.service';

/** fallbackReason says why a touch planned as an email goes as a letter, for the timeline. */
export function fallbackReason(c: Customer): string {
  if (c.preferredChannel === 'letter') return 'customer prefers letters';
  if (!c.email) return 'no email address';
  if (c.emailOptOut) return 'email opted out';
  if (c.emailStatus === 'bounced') return 'email address bounced';
  return 'letter chosen';
}

/** createEmailDelivery returns the Deliver function of the email queue. */
export function createEmailDelivery(deps: HandlerDeps): Deliver {
  const { ctx } = deps;

  const handOverToLetter = (touch: LeasedTouch, customer: Customer): Delivery => ({
    status: 'queued',
    channel: 'letter',
    reason: `sent as a letter: ${fallbackReason(customer)}`,
    // Only once the touch is recorded as a letter and its lease dropped may the letter worker take it.
    afterRecord: async () => {
      const now = ctx.clock.now();
      await enqueueTouches(deps.queues, [{ id: touch.id, channel: 'letter', dueAt: now }], now);
    },
  });

  return async (touch) => {
    const tc = await loadTouchContext(ctx, touch, deps.batches.contextRows);
    if (!tc) return { status: 'skipped', reason: 'customer_missing' };
    const { customer } = tc;
    const decision = eligibility(customer, 'email');
    // A paused plan resumes later: the touch goes back to the schedule, which skips paused customers.
    if (decision.action === 'wait') return { status: 'scheduled', reason: decision.reason };
    if (decision.action === 'skip') {
      if (decision.cleanup) await flagForCleanup(ctx, customer.id);
      return { status: decision.status, reason: decision.reason };
    }
    // Nothing goes out in the name of a business with no name; the dispatcher holds the rest until it has one.
    if (sendsHeldReason(tc.identity)) return { status: 'scheduled', reason: 'held: business name not set' };
    if (decision.action === 'reroute') return handOverToLetter(touch, customer);

    let built;
    try {
      built = buildEmail(tc, customer.email!, ctx.settings.publicUrl);
    } catch (err) {
      // Templates are validated when saved, so this is a step without a template or one saved before validation.
      if (err instanceof TemplateError) return templateRefused(err, 'template');
      throw err;
    }

    const result = await deps.email.send(built.email);
    if (result.ok) {
      return {
        status: 'sent',
        messageId: built.email.messageId,
        reason: result.response || null,
        content: { ...built.content, smtpResponse: result.response } satisfies EmailContent,
      };
    }
    if (!result.permanent) return { status: 'retry', reason: refusalReason(result) };
    // A permanent refusal means the address is bad: the next letter-or-email step falls back to a letter.
    await markEmailBounced(ctx, customer.id);
    ctx.log.warn(
      { touchId: touch.id, customerId: customer.id, code: result.code },
      'email refused permanently; address marked bounced',
    );
    return {
      status: 'failed',
      messageId: built.email.messageId,
      reason: refusalReason(result),
      content: built.content,
    };
  };
}
