import {
  SAMPLE_CONTEXT,
  TemplateError,
  escapeHtml,
  renderMessage,
  renderTalkingPoints,
  validateTemplate,
  type MessageContext,
} from '../../../src/channels/templates';
import { templateRefused } from '../../../src/jobs/handler-deps';

function context(overrides: Partial<MessageContext['customer']> = {}): MessageContext {
  return {
    customer: { firstName: 'Ann', lastName: 'Lee', referralCode: 'ANN-7Q2', ...overrides },
    sale: {
      mainItem: '3-seat sofa',
      items: [
        { name: '3-seat sofa', quantity: 1 },
        { name: 'Cushion', quantity: 2 },
      ],
      total: 'AUD 1,299.00',
      soldAt: '1 November 2026',
    },
    sender: { name: 'Sam Shaw', title: 'Sales consultant' },
    business: { name: 'Example Furniture' },
    links: { preferences: 'https://shop.example/p/abc', unsubscribe: 'https://shop.example/u/abc' },
  };
}

const thanks = {
  subject: 'Thank you, {{ customer.firstName }}!',
  body: 'Dear {{ customer.fullName }},\n\nThank you for choosing the {{ sale.mainItem }} ({{ sale.total }}).\n{% for item in sale.items %}- {{ item.quantity }} x {{ item.name }}\n{% endfor %}\n\nWe will call you next week.',
};

describe('renderMessage', () => {
  it('fills in names, sale details and the sender', () => {
    const r = renderMessage(thanks, context());
    expect(r.subject).toBe('Thank you, Ann!');
    expect(r.body).toContain('Dear Ann Lee,');
    expect(r.body).toContain('3-seat sofa (AUD 1,299.00)');
    expect(r.body).toContain('- 2 x Cushion');
    expect(r.body).not.toMatch(/\n{3}/);
    expect(r.html).toContain('Dear Ann Lee,');
  });

  it('ends the text with the signature, then the footer with preference, referral and unsubscribe lines', () => {
    const r = renderMessage(thanks, context());
    expect(r.text.endsWith('\n')).toBe(true);
    const tail = r.text.slice(r.text.indexOf('Kind regards,'));
    expect(tail).toBe(
      'Kind regards,\nSam Shaw\nSales consultant\nExample Furniture\n\n--\n' +
        'Manage your details and preferences: https://shop.example/p/abc\n' +
        'Your referral code: ANN-7Q2\n' +
        'Unsubscribe from these emails: https://shop.example/u/abc\n' +
        'Example Furniture\n',
    );
    expect(r.footer).toContain('https://shop.example/p/abc');
    expect(r.html.indexOf('Kind regards,')).toBeGreaterThan(r.html.indexOf('We will call you next week.'));
    expect(r.html.indexOf('href="https://shop.example/u/abc"')).toBeGreaterThan(r.html.indexOf('Sam Shaw'));
  });

  it('leaves the unsubscribe line out when there is no unsubscribe link (a letter)', () => {
    const ctx = context();
    ctx.links.unsubscribe = null;
    const r = renderMessage(thanks, ctx);
    expect(r.footer).not.toMatch(/unsubscribe/i);
    expect(r.html).not.toMatch(/unsubscribe/i);
  });

  it('escapes HTML coming from customer data and from the template text', () => {
    const r = renderMessage(
      { subject: 'Hi {{ customer.firstName }}', body: 'Dear {{ customer.firstName }},\n\n5 < 6 & "quotes"' },
      context({ firstName: '<script>alert(1)</script>' }),
    );
    expect(r.html).not.toContain('<script>');
    expect(r.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(r.html).toContain('5 &lt; 6 &amp; &quot;quotes&quot;');
    // The text version is for humans, not a browser: it keeps the characters as typed.
    expect(r.text).toContain('Dear <script>alert(1)</script>,');
  });

  it('keeps the subject on one line even when a value contains a newline', () => {
    const r = renderMessage(
      { subject: 'Hello {{ customer.firstName }}', body: 'x' },
      context({ firstName: 'Ann\r\nBcc: evil@example.com' }),
    );
    expect(r.subject).toBe('Hello Ann Bcc: evil@example.com');
  });

  it('turns paragraphs into <p> elements and single newlines into <br>', () => {
    const r = renderMessage({ subject: 's', body: 'one\ntwo\n\nthree' }, context());
    expect(r.html).toContain('>one<br>two</p>');
    expect(r.html).toContain('>three</p>');
  });

  it('cannot read files through include or render', () => {
    expect(() => renderMessage({ subject: 's', body: "{% include '/etc/passwd' %}" }, context())).toThrow(
      TemplateError,
    );
    expect(() => renderMessage({ subject: 's', body: "{% render '../../package.json' %}" }, context())).toThrow(
      TemplateError,
    );
  });

  it('does not expose properties of the prototype chain', () => {
    const r = renderMessage({ subject: 's', body: '[{{ customer.constructor }}][{{ customer.toString }}]' }, context());
    expect(r.body).toBe('[][]');
  });

  it('is stable when the same template is rendered many times (parsed once, cached)', () => {
    const first = renderMessage(thanks, context());
    for (let i = 0; i < 5; i++) expect(renderMessage(thanks, context())).toEqual(first);
  });
});

describe('renderTalkingPoints', () => {
  it('renders each point and drops those that render empty', () => {
    const points = [
      'Ask {{ customer.firstName }} how the {{ sale.mainItem }} is going',
      '{% if customer.referralCode == "none" %}never{% endif %}',
      'Thank them',
    ];
    expect(renderTalkingPoints(points, context())).toEqual(['Ask Ann how the 3-seat sofa is going', 'Thank them']);
  });
});

describe('validateTemplate', () => {
  it('accepts a template that uses only known variables and filters', () => {
    expect(() =>
      validateTemplate({ ...thanks, talkingPoints: ['Call {{ customer.firstName | upcase }}'] }),
    ).not.toThrow();
    expect(() =>
      validateTemplate({
        subject: '{% if customer.referralCode %}x{% endif %}',
        body: '{{ sender.title | default: "" }}',
      }),
    ).not.toThrow();
  });

  it('refuses a Liquid syntax error, naming the field', () => {
    expect(() => validateTemplate({ subject: 'ok', body: 'Dear {{ customer.firstName ' })).toThrow(TemplateError);
    expect(() => validateTemplate({ subject: 'ok', body: '{% if x %}never closed' })).toThrow(/^body: /);
    expect(() => validateTemplate({ subject: '{% iff %}', body: 'ok' })).toThrow(/^subject: /);
  });

  it('refuses an unknown filter and an unknown variable', () => {
    expect(() => validateTemplate({ subject: 'ok', body: '{{ customer.firstName | shout }}' })).toThrow(
      /body: .*shout/,
    );
    expect(() => validateTemplate({ subject: 'ok', body: '{{ customer.frstName }}' })).toThrow(/frstName/);
    expect(() => validateTemplate({ subject: 'ok', body: 'x', talkingPoints: ['{{ nope }}'] })).toThrow(
      /^talkingPoints\[0\]: /,
    );
  });

  it('has a sample context with every documented variable', () => {
    expect(Object.keys(SAMPLE_CONTEXT).sort()).toEqual([
      'business',
      'channel',
      'content',
      'customer',
      'links',
      'sale',
      'sender',
    ]);
  });
});

describe('escapeHtml', () => {
  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('a render that runs out of time', () => {
  it('is a transient TemplateError (a starved worker retries it); a wrong template is not', () => {
    // Nine million iterations: past the 50 ms wall-clock limit on any machine, within the memory limit.
    const runaway = { subject: 's', body: '{% for i in (1..3000) %}{% for j in (1..3000) %}{% endfor %}{% endfor %}' };
    let caught: unknown;
    try {
      renderMessage(runaway, context());
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TemplateError);
    expect((caught as TemplateError).message).toMatch(/render limit exceeded/);
    expect((caught as TemplateError).transient).toBe(true);
    expect(templateRefused(caught as TemplateError, 'template').status).toBe('retry');

    const wrong = new TemplateError('body', 'body: unexpected token');
    expect(wrong.transient).toBe(false);
    expect(templateRefused(wrong, 'template')).toEqual({
      status: 'failed',
      reason: 'template: body: unexpected token',
    });
  });
});
