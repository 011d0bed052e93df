/** The pure parts of letters: the business day, the date line, composing a letter, and the one-page template check. */
import { checkLetterFits, LetterTooLongError } from '../../../src/channels/letter.channel';
import { renderMessage, SAMPLE_CONTEXT, type MessageContext } from '../../../src/channels/templates';
import {
  batchLabel,
  businessDay,
  checkLetterTemplate,
  composeLetter,
  letterDate,
  letterMessageContext,
  sampleLetter,
} from '../../../src/services/letter.service';

describe('businessDay', () => {
  it('is the date in the business zone, not in UTC', () => {
    const instant = new Date('2026-11-10T14:30:00Z');
    expect(businessDay(instant, 'UTC')).toBe('2026-11-10');
    expect(businessDay(instant, 'Australia/Sydney')).toBe('2026-11-11');
    expect(businessDay(new Date('2026-11-10T03:00:00Z'), 'America/Los_Angeles')).toBe('2026-11-09');
  });

  it('follows local midnight across a DST change', () => {
    // Sydney goes to daylight time on 4 October 2026 at 02:00; 13:59Z on the 3rd is 23:59 AEST, 14:00Z is midnight.
    expect(businessDay(new Date('2026-10-03T13:59:00Z'), 'Australia/Sydney')).toBe('2026-10-03');
    expect(businessDay(new Date('2026-10-03T14:00:00Z'), 'Australia/Sydney')).toBe('2026-10-04');
  });
});

describe('letterDate', () => {
  const instant = new Date('2026-11-10T14:30:00Z');
  it('writes day-first in the customer zone, month-first for US addresses', () => {
    expect(letterDate(instant, 'Australia/Sydney', 'AU')).toBe('11 November 2026');
    expect(letterDate(instant, 'Europe/Berlin', 'DE')).toBe('10 November 2026');
    expect(letterDate(instant, 'America/New_York', 'US')).toBe('November 10, 2026');
    expect(letterDate(instant, 'America/New_York', ' us ')).toBe('November 10, 2026');
    expect(letterDate(instant, 'UTC', null)).toBe('10 November 2026');
  });
});

describe('composeLetter', () => {
  it('takes the letterhead, signature and footer from the message, and drops the unsubscribe link', () => {
    const message = letterMessageContext(SAMPLE_CONTEXT as MessageContext);
    expect(message.links.unsubscribe).toBeNull();
    expect(SAMPLE_CONTEXT.links.unsubscribe).not.toBeNull(); // the shared sample is not changed
    const rendered = renderMessage(
      { subject: 'Hello {{ customer.firstName }}', body: 'Dear {{ customer.firstName }},\n\nThanks.' },
      message,
    );
    const letter = composeLetter({
      rendered,
      message,
      recipientName: 'Ann Lee',
      address: { lines: ['1 Main St'], city: 'Sydney', region: 'NSW', postalCode: '2000', country: 'AU' },
      date: '11 November 2026',
    });
    expect(letter).toEqual({
      businessName: 'Example Furniture',
      date: '11 November 2026',
      recipient: {
        name: 'Ann Lee',
        lines: ['1 Main St'],
        city: 'Sydney',
        region: 'NSW',
        postalCode: '2000',
        country: 'AU',
      },
      subject: 'Hello Ann',
      body: 'Dear Ann,\n\nThanks.',
      sender: { name: 'Sam Shaw', title: 'Sales consultant' },
      signature: {
        closing: 'Kind regards,',
        name: 'Sam Shaw',
        lines: ['Sales consultant', 'Example Furniture', 'Phone +61 2 5550 1234'],
      },
      footer: 'Manage your details and preferences: https://example.com/p/token\nYour referral code: ANN-7Q2',
    });
  });

  it('leaves missing locality parts null', () => {
    const message = letterMessageContext(SAMPLE_CONTEXT as MessageContext);
    const letter = composeLetter({
      rendered: renderMessage({ subject: 's', body: 'b' }, message),
      message,
      recipientName: 'X',
      address: { lines: ['PO Box 1'], country: 'NZ' },
      date: 'd',
    });
    expect(letter.recipient).toEqual({
      name: 'X',
      lines: ['PO Box 1'],
      city: null,
      region: null,
      postalCode: null,
      country: 'NZ',
    });
  });
});

describe('checkLetterTemplate', () => {
  const lines = (n: number) => ({
    subject: 'Tips',
    body: Array.from({ length: n }, (_, i) => `Line ${i + 1} about your {{ sale.mainItem }}.`).join('\n'),
  });

  it('accepts a letter of ordinary length', async () => {
    await expect(
      checkLetterTemplate({
        subject: 'Thank you, {{ customer.firstName }}',
        body: 'Dear {{ customer.firstName }},\n\nThank you for choosing us.',
      }),
    ).resolves.toBeUndefined();
  });

  it('refuses a letter that runs past one page', async () => {
    await expect(checkLetterTemplate(lines(200))).rejects.toBeInstanceOf(LetterTooLongError);
  });

  it('refuses a letter that fits A4 but not the shorter US Letter sheet', async () => {
    let n = 1;
    while (
      await checkLetterFits(sampleLetter(lines(n + 1)), 'A4').then(
        () => true,
        () => false,
      )
    )
      n++;
    // n lines is the most that fits A4; US Letter is 50 pt shorter, so it overflows there.
    await expect(checkLetterFits(sampleLetter(lines(n)), 'Letter')).rejects.toBeInstanceOf(LetterTooLongError);
    await expect(checkLetterTemplate(lines(n))).rejects.toBeInstanceOf(LetterTooLongError);
    expect(n).toBeGreaterThan(20);
  });
});

describe('batchLabel', () => {
  it('names the day and the number', () => {
    expect(batchLabel({ businessDate: '2026-11-10', seq: 2 })).toBe('print batch 2026-11-10 #2');
  });
});
