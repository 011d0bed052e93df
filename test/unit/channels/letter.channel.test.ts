import { PDFDocument, StandardFonts } from 'pdf-lib';
import {
  LetterTooLongError,
  addressLines,
  addressesCsv,
  checkLetterFits,
  letterLayout,
  mergeLetters,
  renderLetter,
  wrapText,
  type LetterContent,
  type LetterFonts,
  type LetterLayout,
  type Paper,
} from '../../../src/channels/letter.channel';

const MM = 72 / 25.4;

function letter(overrides: Partial<LetterContent> = {}): LetterContent {
  return {
    businessName: 'Example Furniture',
    date: '3 November 2026',
    recipient: {
      name: 'Ann Lee',
      lines: ['Unit 4', '1 Main St'],
      city: 'Sydney',
      region: 'NSW',
      postalCode: '2000',
      country: 'AU',
    },
    subject: 'Thank you for your purchase',
    body: 'Dear Ann,\n\nThank you for choosing the 3-seat sofa. We hope it brings you years of comfort.\n\nSam will call you next week to make sure everything arrived in good order.',
    sender: { name: 'Sam Shaw', title: 'Sales consultant' },
    footer: 'Manage your details and preferences: https://shop.example/p/abc\nYour referral code: ANN-7Q2',
    ...overrides,
  };
}

let fonts: LetterFonts;
beforeAll(async () => {
  const doc = await PDFDocument.create();
  fonts = {
    regular: await doc.embedFont(StandardFonts.Helvetica),
    bold: await doc.embedFont(StandardFonts.HelveticaBold),
  };
});

function texts(layout: LetterLayout, role: string): string[] {
  return layout.lines.filter((l) => l.role === role).map((l) => l.text);
}

/** fromTop converts a PDF y (from the bottom) to millimetres from the top edge. */
function mmFromTop(layout: LetterLayout, y: number): number {
  return (layout.height - y) / MM;
}

describe('letterLayout', () => {
  it('places the address of an A4 letter inside a DL window: 20 mm from the left, 45 mm from the top, 90 x 45 mm', () => {
    const layout = letterLayout(letter(), 'A4', fonts);
    const w = layout.addressWindow;
    expect(w.x / MM).toBeCloseTo(20, 5);
    expect(mmFromTop(layout, w.y + w.height)).toBeCloseTo(45, 5);
    expect(w.width / MM).toBeCloseTo(90, 5);
    expect(w.height / MM).toBeCloseTo(45, 5);
    expect(texts(layout, 'address')).toEqual(['Ann Lee', 'Unit 4', '1 Main St', 'Sydney NSW 2000', 'AUSTRALIA']);
    for (const line of layout.lines.filter((l) => l.role === 'address')) {
      expect(line.x).toBeGreaterThanOrEqual(w.x);
      expect(line.x + fonts.regular.widthOfTextAtSize(line.text, line.size)).toBeLessThanOrEqual(w.x + w.width);
      expect(line.y).toBeGreaterThanOrEqual(w.y);
      expect(line.y + line.size).toBeLessThanOrEqual(w.y + w.height);
    }
  });

  it('places the address of a US Letter inside a #10 window: 7/8 in from the left, about 2 in from the top', () => {
    const us = letter({
      recipient: {
        name: 'Ann Lee',
        lines: ['1 Main St'],
        city: 'Springfield',
        region: 'IL',
        postalCode: '62701',
        country: 'US',
      },
      homeCountry: 'US',
    });
    const layout = letterLayout(us, 'Letter', fonts);
    const w = layout.addressWindow;
    expect(layout.width).toBe(612);
    expect(w.x).toBeCloseTo(0.875 * 72, 5);
    expect((layout.height - (w.y + w.height)) / 72).toBeCloseTo(2, 5);
    expect(texts(layout, 'address')).toEqual(['Ann Lee', '1 Main St', 'Springfield, IL 62701']);
    for (const line of layout.lines.filter((l) => l.role === 'address')) {
      expect(line.y).toBeGreaterThanOrEqual(w.y);
      expect(line.y + line.size).toBeLessThanOrEqual(w.y + w.height);
    }
  });

  it('orders the page: letterhead, date, address, subject, body, signature, footer', () => {
    const layout = letterLayout(letter(), 'A4', fonts);
    const y = (role: string): number => layout.lines.find((l) => l.role === role)!.y;
    expect(texts(layout, 'letterhead')).toEqual(['Example Furniture']);
    expect(texts(layout, 'date')).toEqual(['3 November 2026']);
    expect(y('letterhead')).toBeGreaterThan(y('address'));
    expect(y('address')).toBeGreaterThan(y('subject'));
    expect(y('subject')).toBeGreaterThan(y('body'));
    expect(y('body')).toBeGreaterThan(y('signature'));
    expect(y('signature')).toBeGreaterThan(y('footer'));
    expect(texts(layout, 'signature')).toEqual(['Kind regards,', 'Sam Shaw', 'Sales consultant']);
    expect(texts(layout, 'footer')).toEqual([
      'Manage your details and preferences: https://shop.example/p/abc',
      'Your referral code: ANN-7Q2',
    ]);
    // The date is right-aligned on the right margin.
    const date = layout.lines.find((l) => l.role === 'date')!;
    expect(date.x + fonts.regular.widthOfTextAtSize(date.text, date.size)).toBeCloseTo(layout.width - 20 * MM, 3);
  });

  it('word-wraps the body within the margins', () => {
    const layout = letterLayout(letter({ body: 'word '.repeat(200) }), 'A4', fonts);
    const body = layout.lines.filter((l) => l.role === 'body');
    expect(body.length).toBeGreaterThan(5);
    for (const line of body)
      expect(line.x + fonts.regular.widthOfTextAtSize(line.text, line.size)).toBeLessThanOrEqual(
        layout.width - 20 * MM,
      );
  });

  it('replaces characters Helvetica cannot draw instead of failing', async () => {
    const layout = letterLayout(
      letter({ recipient: { ...letter().recipient, name: 'Zoë Łukasz Dvořák 李' } }),
      'A4',
      fonts,
    );
    expect(texts(layout, 'address')[0]).toBe('Zoë Lukasz Dvorák ?');
    await expect(renderLetter(letter({ subject: 'Emoji 🎉 and “quotes” – ok' }))).resolves.toBeInstanceOf(Uint8Array);
  });

  it('refuses an address too long for the window', () => {
    const recipient = { ...letter().recipient, lines: ['1', '2', '3', '4', '5', '6', '7', '8'] };
    expect(() => letterLayout(letter({ recipient }), 'A4', fonts)).toThrow(/envelope window/);
  });

  it('refuses a body that would run into the footer', () => {
    expect(() => letterLayout(letter({ body: 'A sentence of some length. '.repeat(400) }), 'A4', fonts)).toThrow(
      LetterTooLongError,
    );
  });
});

describe('wrapText', () => {
  it('breaks a word longer than the line, such as a URL', () => {
    const lines = wrapText(`see https://shop.example/${'x'.repeat(300)}`, fonts.regular, 10, 200);
    expect(lines.length).toBeGreaterThan(2);
    for (const l of lines) expect(fonts.regular.widthOfTextAtSize(l, 10)).toBeLessThanOrEqual(200);
  });
});

describe('addressLines', () => {
  it('formats the locality the way the destination post expects', () => {
    const base = { name: 'X', lines: ['Hauptstr. 1'], city: 'Berlin', postalCode: '10115', country: 'DE' };
    expect(addressLines(base)).toEqual(['X', 'Hauptstr. 1', '10115 Berlin', 'GERMANY']);
    expect(addressLines({ ...base, city: 'London', postalCode: 'SW1A 1AA', country: 'GB' }, 'GB')).toEqual([
      'X',
      'Hauptstr. 1',
      'London',
      'SW1A 1AA',
    ]);
  });
});

describe('renderLetter', () => {
  it.each<Paper>(['A4', 'Letter'])('renders exactly one %s page', async (paper) => {
    const bytes = await renderLetter(letter(), paper);
    const doc = await PDFDocument.load(bytes);
    expect(doc.getPageCount()).toBe(1);
    const { width, height } = doc.getPage(0).getSize();
    expect([Math.round(width), Math.round(height)]).toEqual(paper === 'A4' ? [595, 842] : [612, 792]);
    expect(doc.getTitle()).toBe('Thank you for your purchase');
  });

  it('throws LetterTooLongError for a very long body, and checkLetterFits agrees', async () => {
    const long = letter({
      body: Array.from({ length: 80 }, (_, i) => `Paragraph ${i} has a few words in it.`).join('\n\n'),
    });
    await expect(renderLetter(long)).rejects.toBeInstanceOf(LetterTooLongError);
    await expect(checkLetterFits(long, 'Letter')).rejects.toThrow(/does not fit on one page/);
    await expect(checkLetterFits(letter())).resolves.toBeUndefined();
  });
});

describe('mergeLetters', () => {
  it('produces one PDF whose page count is the sum of its parts', async () => {
    const one = await renderLetter(letter());
    const two = await mergeLetters([
      await renderLetter(letter({ subject: 'a' })),
      await renderLetter(letter({ subject: 'b' }), 'Letter'),
    ]);
    const merged = await PDFDocument.load(await mergeLetters([one, two, one]));
    expect(merged.getPageCount()).toBe(4);
  });

  it('refuses an empty batch', async () => {
    await expect(mergeLetters([])).rejects.toThrow(RangeError);
  });
});

describe('addressesCsv', () => {
  it('writes a header row and quotes per RFC 4180 with CRLF line ends', () => {
    const csv = addressesCsv([
      {
        touchId: 't1',
        name: 'Ann Lee',
        lines: ['1 Main St'],
        city: 'Sydney',
        region: 'NSW',
        postalCode: '2000',
        country: 'AU',
      },
      {
        touchId: 't2',
        name: 'Bob "Bobby" Ray, Jr.',
        lines: ['Flat 2', 'Line with\nnewline', '3rd'],
        city: null,
        region: undefined,
        postalCode: '',
        country: 'GB',
      },
      { touchId: 't3', name: '=HYPERLINK("http://evil")', lines: [], country: 'US' },
    ]);
    expect(csv.split('\r\n')).toEqual([
      'touchId,name,address1,address2,address3,city,region,postalCode,country',
      't1,Ann Lee,1 Main St,,,Sydney,NSW,2000,AU',
      't2,"Bob ""Bobby"" Ray, Jr.",Flat 2,"Line with\nnewline",3rd,,,,GB',
      't3,"\'=HYPERLINK(""http://evil"")",,,,,,,US',
      '',
    ]);
  });

  it('has at least two address columns even for an empty batch', () => {
    expect(addressesCsv([])).toBe('touchId,name,address1,address2,city,region,postalCode,country\r\n');
  });
});
