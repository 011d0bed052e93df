/** Composing the email of a touch: the one function both the real send and its preview use. */
import { renderMessage, TemplateError } from '../channels/templates';
import type { OutgoingEmail } from '../channels/email.channel';
import { listUnsubscribeHeaders } from './email-headers';
import type { TouchContext } from './touch-context.service';

/** EmailContent is what is kept of a sent email in touches.content: enough for the timeline, not the whole HTML. */
export interface EmailContent {
  subject: string;
  text: string;
  sender: { name: string; title: string | null };
  smtpResponse?: string;
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
  const rendered = renderMessage(template, { ...tc.message, channel: 'email' });
  const headers = listUnsubscribeHeaders(tc.message.links.unsubscribe);
  return {
    email: {
      // From the business; a reply goes to the person who signed. A person a sale created is not trusted with
      // replies until an admin confirms them: the business gets those.
      from: tc.identity.emailFrom,
      to,
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
