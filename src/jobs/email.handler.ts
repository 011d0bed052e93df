/**
 * Delivering an email touch: load the customer and step, decide (still reachable by email? else a letter or
 * nothing), render, send, record. Expected outcomes (opted out, bounced, refused) are values; a throw means a bug.
 */
import { eligibility } from '../domain/eligibility';
import { listUnsubscribeHeaders, refusalReason } from '../services/email-headers';
import { flagForCleanup, markEmailBounced } from '../services/customer.service';
import type { Customer } from '../db/repositories/customer.repository';
import type { LeasedTouch } from '../db/repositories/dispatch.repository';
import { renderMessage, TemplateError } from '../channels/templates';
import type { OutgoingEmail } from '../channels/email.channel';
import { loadTouchContext, type TouchContext } from '../services/touch-context.service';
import { enqueueTouches } from './queues';
import type { Deliver, Delivery, HandlerDeps } from './handler-deps';

/** EmailContent is what is kept of a sent email in touches.content: enough for the timeline, not the whole HTML. */
export interface EmailContent {
  subject: string;
  text: string;
  sender: { name: string; title: string | null };
  smtpResponse?: string;
}

/** fallbackReason says why a touch planned as an email goes as a letter, for the timeline. */
export function fallbackReason(c: Customer): string {
  if (c.preferredChannel === 'letter') return 'customer prefers letters';
  if (!c.email) return 'no email address';
  if (c.emailOptOut) return 'email opted out';
  if (c.emailStatus === 'bounced') return 'email address bounced';
  return 'letter chosen';
}

/** emailMessageId is the stable Message-ID of a touch, `<touchId@host-of-PUBLIC_URL>`: a resend carries the same one. */
export function emailMessageId(touchId: string, publicUrl: string): string {
  return `<${touchId}@${new URL(publicUrl).hostname}>`;
}

/** buildEmail renders the touch's step for its customer into an OutgoingEmail and the content kept of it. */
export function buildEmail(
  tc: TouchContext,
  to: string,
  publicUrl: string,
): { email: OutgoingEmail; content: EmailContent } {
  const template = tc.step?.template;
  if (!template) throw new TemplateError('template', `step ${tc.touch.step} of the plan has no email template`);
  const rendered = renderMessage(template, tc.message);
  const headers = listUnsubscribeHeaders(tc.message.links.unsubscribe);
  return {
    email: {
      to,
      // A person a sale created is not trusted with replies until a manager confirms them: the business gets them.
      replyTo: tc.sender && !tc.sender.pending ? tc.sender.email : undefined,
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
      messageId: emailMessageId(tc.touch.id, publicUrl),
      headers,
    },
    content: {
      subject: rendered.subject,
      text: rendered.text,
      sender: { name: tc.message.sender.name, title: tc.message.sender.title ?? null },
    },
  };
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
    if (decision.action === 'reroute') return handOverToLetter(touch, customer);
    if (decision.action === 'skip') {
      if (decision.cleanup) await flagForCleanup(ctx, customer.id);
      return { status: decision.status, reason: decision.reason };
    }

    let built;
    try {
      built = buildEmail(tc, customer.email!, ctx.settings.publicUrl);
    } catch (err) {
      // Templates are validated when saved, so this is a step without a template or one saved before validation.
      if (err instanceof TemplateError) return { status: 'failed', reason: `template: ${err.message}` };
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
