/**
 * Newsletters in the worker: the periodic fan-out of editions whose send time has come, and the delivery of each
 * recipient's touch by email with the same unsubscribe headers and preference footer as every email. Whether the
 * customer may still get it is checked again at delivery: they may have opted out since the fan-out.
 */
import { TemplateError } from '../channels/templates';
import { eligibility } from '../domain/eligibility';
import { getBusinessIdentity, sendsHeldReason } from '../services/business-identity.service';
import { markEmailBounced } from '../services/customer.service';
import { listUnsubscribeHeaders, refusalReason } from '../services/email-headers';
import { fanOutDueNewsletters, renderNewsletter } from '../services/newsletter.service';
import { buildMessageContext } from '../services/touch-context.service';
import { emailMessageId } from './email.handler';
import { templateRefused, type Deliver, type HandlerDeps } from './handler-deps';

/** NewsletterContent is what is kept of a sent newsletter: the edition holds the body, so only the subject. */
export interface NewsletterContent {
  newsletterId: string;
  subject: string;
  smtpResponse?: string;
}

/** createNewsletterDelivery returns the Deliver function of the newsletter queue. */
export function createNewsletterDelivery(deps: HandlerDeps): Deliver {
  const { ctx } = deps;
  return async (touch) => {
    // The edition, the customer and their latest sale, read with the other deliveries running at the same time.
    const rows = await deps.batches.contextRows(touch.id);
    if (!rows) return { status: 'skipped', reason: 'customer_missing' };
    const { newsletter, customer } = rows;
    if (!newsletter) return { status: 'failed', reason: 'newsletter_missing' };
    if (newsletter.status === 'cancelled') return { status: 'cancelled', reason: 'newsletter_cancelled' };
    const decision = eligibility(customer, 'newsletter');
    if (decision.action === 'skip') return { status: decision.status, reason: decision.reason };
    if (!customer.email) return { status: 'skipped', reason: 'no_email' };

    const identity = await getBusinessIdentity(ctx);
    if (sendsHeldReason(identity)) return { status: 'scheduled', reason: 'held: business name not set' };
    const message = buildMessageContext(ctx, {
      identity,
      customer,
      sale: rows.sale,
      sender: null,
      zone: customer.timezone ?? ctx.settings.defaultTimezone,
      channel: 'newsletter',
    });
    let rendered;
    try {
      rendered = renderNewsletter(newsletter, message);
    } catch (err) {
      // Validated when published; a render-time limit (a huge loop over data) still lands here.
      if (err instanceof TemplateError) return templateRefused(err, 'template');
      throw err;
    }
    const messageId = emailMessageId(touch.id, ctx.settings.publicUrl);
    const result = await deps.email.send({
      from: identity.emailFrom,
      to: customer.email,
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
      messageId,
      headers: listUnsubscribeHeaders(message.links.unsubscribe),
    });
    const content: NewsletterContent = { newsletterId: newsletter.id, subject: rendered.subject };
    if (result.ok)
      return {
        status: 'sent',
        messageId,
        reason: result.response || null,
        content: { ...content, smtpResponse: result.response },
      };
    const reason = refusalReason(result);
    if (!result.permanent) return { status: 'retry', reason };
    // A permanent refusal means the address is bad: nothing more goes to it until a new one is given.
    await markEmailBounced(ctx, customer.id);
    return { status: 'failed', messageId, reason, content };
  };
}

/** createNewsletterMaintenance returns the periodic newsletter fan-out. */
export function createNewsletterMaintenance(deps: HandlerDeps) {
  return { newsletters: () => fanOutDueNewsletters(deps.ctx) };
}
