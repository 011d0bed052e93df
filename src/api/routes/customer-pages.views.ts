/**
 * The customer's HTML pages: plain template strings with every value escaped, a little inline CSS, no scripts, so
 * they work in any browser and mail client, with JavaScript off.
 */
import { escapeHtml } from '../../channels/templates';
import type { ContactLine, CustomerPageView } from '../../services/customer-page.service';

const CSS = `
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d1d1f;background:#f6f6f4;margin:0}
main{max-width:44rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid #ddd}
section{background:#fff;border:1px solid #e2e2e2;border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}
label{display:block;margin:.5rem 0 .15rem;font-weight:600}
input[type=text],input[type=email],input[type=tel],textarea{width:100%;box-sizing:border-box;padding:.45rem;border:1px solid #bbb;border-radius:4px;font:inherit}
.check label,.radio label{display:inline;font-weight:400;margin-left:.3rem}
.check,.radio{margin:.4rem 0}
button{font:inherit;padding:.5rem 1rem;border-radius:4px;border:1px solid #225;background:#2b4c8c;color:#fff;margin-top:.75rem;cursor:pointer}
button.danger{background:#a12a2a;border-color:#611}
.note{padding:.6rem 1rem;border-radius:6px;background:#e6f4ea;border:1px solid #9bc9a8}
.error{padding:.6rem 1rem;border-radius:6px;background:#fdecea;border:1px solid #e0a19b}
table{width:100%;border-collapse:collapse;font-size:.95rem}td,th{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #eee;vertical-align:top}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dt{font-weight:600}dd{margin:0}
small,.muted{color:#666}
header.shop{border-bottom:1px solid #ddd;padding:0 0 .75rem;margin:0 0 1rem}header.shop .name{font-size:1.3rem;font-weight:700}
header.shop p{margin:.15rem 0;color:#444}`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow"><meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><main>${body}</main></body></html>`;
}

/** MESSAGES are the notes shown after a change (the redirect carries only the key, never free text). */
export const MESSAGES: Record<string, string> = {
  contact: 'Thank you: your contact details are updated.',
  preferences: 'Your preferences are saved and apply from now on.',
  unsubscribed: 'You will receive no more emails or newsletters from us.',
  nochange: 'Nothing needed changing.',
  sent_export: 'We have emailed you a link to download your data. It works once, for 30 minutes.',
  sent_erase: 'We have emailed you a link to erase your data. It works once, for 30 minutes.',
  no_email: 'We have no working email address for you to send the link to. Add one below, or call us and we will help.',
};

function touchRows(lines: ContactLine[], past: boolean): string {
  if (lines.length === 0) return `<p class="muted">${past ? 'No contacts yet.' : 'Nothing planned.'}</p>`;
  const rows = lines
    .map(
      (l) =>
        `<tr><td>${escapeHtml(l.date)}</td><td>${escapeHtml(l.how)}</td><td>${escapeHtml(l.description)}</td>` +
        (past ? `<td>${escapeHtml(l.status)}</td>` : '') +
        '</tr>',
    )
    .join('');
  return `<table><thead><tr><th>${past ? 'When' : 'Around'}</th><th>How</th><th>What</th>${past ? '<th></th>' : ''}</tr></thead><tbody>${rows}</tbody></table>`;
}

function checked(on: boolean): string {
  return on ? ' checked' : '';
}

function shopHeader(v: CustomerPageView): string {
  const b = v.business;
  const contact = [b.phone ? `Phone ${escapeHtml(b.phone)}` : '', b.website ? escapeHtml(b.website) : '']
    .filter(Boolean)
    .join(' · ');
  const person = v.salesperson
    ? `<p>Your contact: <strong>${escapeHtml(v.salesperson.name)}</strong>${v.salesperson.title ? `, ${escapeHtml(v.salesperson.title)}` : ''}${v.salesperson.phone ? ` · ${escapeHtml(v.salesperson.phone)}` : ''}</p>`
    : '';
  return `<header class="shop"><div class="name">${escapeHtml(b.name)}</div>${b.addressLines.map((l) => `<p>${escapeHtml(l)}</p>`).join('')}${contact ? `<p>${contact}</p>` : ''}${person}</header>`;
}

const NOT_GIVEN = '<span class="muted">not given</span>';

/** renderCustomerPage is the preference page: the data held, the forms to change it, export and erasure. */
export function renderCustomerPage(
  v: CustomerPageView,
  token: string,
  notice?: { message?: string; error?: string },
): string {
  const c = v.customer;
  const base = `/p/${encodeURIComponent(token)}`;
  const address = c.address;
  const sales = v.purchases.length
    ? `<table><thead><tr><th>Date</th><th>Items</th><th>Total</th></tr></thead><tbody>${v.purchases
        .map(
          (s) =>
            `<tr><td>${escapeHtml(s.date)}</td><td>${s.items.map(escapeHtml).join('<br>')}</td><td>${escapeHtml(s.total)}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p class="muted">None.</p>';
  const greeting = c.firstName ? `Hello ${escapeHtml(c.firstName)}` : 'Hello';
  return layout(
    `Your details with ${v.business.name}`,
    `${shopHeader(v)}
<h1>${greeting}: your details and preferences</h1>
${notice?.message ? `<p class="note" role="status">${escapeHtml(notice.message)}</p>` : ''}
${notice?.error ? `<p class="error" role="alert">${escapeHtml(notice.error)}</p>` : ''}
<section><h2>What we hold about you</h2><dl>
<dt>Name</dt><dd>${escapeHtml(c.name) || NOT_GIVEN}</dd>
<dt>Email</dt><dd>${escapeHtml(c.email ?? '') || NOT_GIVEN}${c.emailBounced ? ' <small>(our mail to it came back)</small>' : ''}</dd>
<dt>Phone</dt><dd>${escapeHtml(c.phone ?? '') || NOT_GIVEN}</dd>
<dt>Address</dt><dd>${c.addressLines.length ? c.addressLines.map(escapeHtml).join('<br>') : NOT_GIVEN}</dd>
<dt>We write by</dt><dd>${escapeHtml(c.preferredChannel ?? 'email where we can, else letter')}</dd>
<dt>Emails</dt><dd>${c.emails ? 'on' : 'off'}</dd>
<dt>Newsletters</dt><dd>${c.newsletters ? 'on' : 'off'}</dd>
<dt>Contact at all</dt><dd>${c.contact ? 'yes' : 'no: do not contact me'}</dd>
<dt>Your referral code</dt><dd>${escapeHtml(c.referralCode)}${c.referrals ? ` <small>(${c.referrals} referral${c.referrals === 1 ? '' : 's'}: thank you)</small>` : ''}</dd>
</dl>
<h2>Your purchases</h2>${sales}
<h2>Coming up</h2>${touchRows(v.coming, false)}
<h2>Past contacts</h2>${touchRows(v.past, true)}
</section>

<section><h2>Correct your details</h2>
<form method="post" action="${base}/contact">
<label for="firstName">First name</label><input type="text" id="firstName" name="firstName" maxlength="100" value="${escapeHtml(c.firstName ?? '')}" autocomplete="given-name">
<label for="lastName">Last name</label><input type="text" id="lastName" name="lastName" maxlength="100" value="${escapeHtml(c.lastName ?? '')}" autocomplete="family-name">
<label for="email">Email</label><input type="email" id="email" name="email" maxlength="254" value="${escapeHtml(c.email ?? '')}" autocomplete="email">
<label for="phone">Phone</label><input type="tel" id="phone" name="phone" maxlength="30" value="${escapeHtml(c.phone ?? '')}" autocomplete="tel">
<label for="addressLines">Street address (one line each)</label><textarea id="addressLines" name="addressLines" rows="3" autocomplete="street-address">${escapeHtml(address?.lines.join('\n') ?? '')}</textarea>
<label for="city">City</label><input type="text" id="city" name="city" maxlength="100" value="${escapeHtml(address?.city ?? '')}">
<label for="region">State or region</label><input type="text" id="region" name="region" maxlength="100" value="${escapeHtml(address?.region ?? '')}">
<label for="postalCode">Postcode</label><input type="text" id="postalCode" name="postalCode" maxlength="20" value="${escapeHtml(address?.postalCode ?? '')}">
<label for="country">Country (two letters, e.g. AU)</label><input type="text" id="country" name="country" maxlength="2" value="${escapeHtml(address?.country ?? '')}">
<fieldset style="border:0;padding:0;margin:.75rem 0 0"><legend style="font-weight:600">How should we write to you?</legend>
<div class="radio"><input type="radio" id="pc-email" name="preferredChannel" value="email"${checked(c.preferredChannel === 'email')}><label for="pc-email">By email</label></div>
<div class="radio"><input type="radio" id="pc-letter" name="preferredChannel" value="letter"${checked(c.preferredChannel === 'letter')}><label for="pc-letter">By letter</label></div>
</fieldset>
<button type="submit">Save my details</button>
</form></section>

<section><h2>What you hear from us</h2>
<form method="post" action="${base}/preferences">
<input type="hidden" name="form" value="preferences">
<div class="check"><input type="checkbox" id="pref-email" name="email" value="yes"${checked(c.emails)}><label for="pref-email">Emails from us</label></div>
<div class="check"><input type="checkbox" id="pref-newsletters" name="newsletters" value="yes"${checked(c.newsletters)}><label for="pref-newsletters">Newsletters (by email, at most three a year)</label></div>
<div class="check"><input type="checkbox" id="pref-contact" name="contact" value="yes"${checked(c.contact)}><label for="pref-contact">Contact me at all (untick for "do not contact": no letters, emails or calls)</label></div>
<button type="submit">Save my preferences</button>
</form></section>

<section><h2>Your data</h2>
<p>To keep your data safe, we email a link to ${c.email ? `<strong>${escapeHtml(c.email)}</strong>` : 'your email address'} for these. It works once, for 30 minutes.</p>
<form method="post" action="${base}/request"><input type="hidden" name="what" value="export"><button type="submit">Email me a link to download my data</button></form>
<form method="post" action="${base}/request"><input type="hidden" name="what" value="erase"><button type="submit" class="danger">Email me a link to erase my data</button></form>
</section>`,
  );
}

/** renderDataLinkPage is the page of an emailed single-use link: one button that uses it. */
export function renderDataLinkPage(purpose: 'export' | 'erase', token: string): string {
  const action = `/d/${encodeURIComponent(token)}`;
  if (purpose === 'export') {
    return layout(
      'Download your data',
      `<h1>Download your data</h1><section><p>Everything we hold about you, and what we sent you, as one file (JSON).</p>
<form method="post" action="${action}"><input type="hidden" name="confirm" value="yes"><button type="submit">Download my data</button></form>
<p class="muted">This link works once.</p></section>`,
    );
  }
  return layout(
    'Erase your data',
    `<h1>Erase your data?</h1><section>
<p>We will erase your name, contact details, address and the letters and emails we wrote to you, and we will not
contact you again. We keep only anonymous counts (for example, that a sale happened). This cannot be undone.</p>
<form method="post" action="${action}"><input type="hidden" name="confirm" value="yes">
<button type="submit" class="danger">Yes, erase my data</button></form>
<p class="muted">If you did not mean to, just close this page: nothing changes.</p></section>`,
  );
}

/** renderErased tells the customer their data is gone. */
export function renderErased(): string {
  return layout(
    'Your data is erased',
    '<h1>Your data is erased</h1><section><p>We hold no personal data about you any more, and we will not contact you again.</p></section>',
  );
}

/** renderUnsubscribe is the one-click unsubscribe page: a confirm button before, a confirmation after. */
export function renderUnsubscribe(token: string, done: boolean): string {
  // An unsubscribe link only unsubscribes, so this page offers no way into the preference page.
  const elsewhere =
    '<p class="muted">To choose what else you hear from us, use the link in any of our letters or emails.</p>';
  if (done) {
    return layout(
      'Unsubscribed',
      `<h1>You are unsubscribed</h1><section><p>${escapeHtml(MESSAGES.unsubscribed)}</p>${elsewhere}</section>`,
    );
  }
  return layout(
    'Unsubscribe',
    `<h1>Unsubscribe from our emails?</h1><section>
<form method="post" action="/u/${encodeURIComponent(token)}"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>${elsewhere}</section>`,
  );
}

/** renderNotFound is the answer to a link that is not valid (forged, altered, or cut short by a mail client). */
export function renderNotFound(): string {
  return layout(
    'Link not valid',
    '<h1>This link is not valid</h1><section><p>Please use the link from your most recent letter or email from us, copied in full.</p></section>',
  );
}

/** renderBadRequest answers a form that could not be understood. */
export function renderBadRequest(message: string): string {
  return layout(
    'Please check the form',
    `<h1>Please check the form</h1><section><p class="error">${escapeHtml(message)}</p><p>Go back, correct it and send the form again.</p></section>`,
  );
}
