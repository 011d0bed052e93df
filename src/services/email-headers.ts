/** The headers every email to a customer carries, whichever handler sends it (plan emails, newsletters). */

/**
 * listUnsubscribeHeaders returns RFC 8058 one-click unsubscribe headers for a customer's unsubscribe link: a mail
 * client may POST "List-Unsubscribe=One-Click" to it. No mailto: nobody would read one. Empty when there is no link.
 */
export function listUnsubscribeHeaders(unsubscribeUrl: string | null | undefined): Record<string, string> {
  if (!unsubscribeUrl) return {};
  return { 'List-Unsubscribe': `<${unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}

/** refusalReason names a mail server's refusal with its SMTP code once, e.g. "smtp 550: mailbox unavailable". */
export function refusalReason(r: { reason: string; code?: number }): string {
  if (r.code === undefined) return r.reason;
  return r.reason.startsWith(String(r.code)) ? `smtp ${r.reason}` : `smtp ${r.code}: ${r.reason}`;
}
