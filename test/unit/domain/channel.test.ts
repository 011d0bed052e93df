/** chooseMailChannel: the SPEC.md letter-or-email policy. */
import { chooseMailChannel } from '../../../src/domain/channel';
import type { Address, ContactPoints } from '../../../src/domain/types';

const ADDRESS: Address = { lines: ['1 Main St'], city: 'Sydney', region: 'NSW', postalCode: '2000', country: 'AU' };
const EMAIL = 'ann@example.com';

describe('chooseMailChannel', () => {
  const cases: { why: string; contact: ContactPoints; expected: ReturnType<typeof chooseMailChannel> }[] = [
    // Preference first, when usable.
    {
      why: 'prefers email, has both',
      contact: { email: EMAIL, address: ADDRESS, preferredChannel: 'email' },
      expected: { channel: 'email' },
    },
    {
      why: 'prefers letter, has both',
      contact: { email: EMAIL, address: ADDRESS, preferredChannel: 'letter' },
      expected: { channel: 'letter' },
    },
    // No preference: email where known and usable, else letter.
    {
      why: 'no preference, has both: email',
      contact: { email: EMAIL, address: ADDRESS },
      expected: { channel: 'email' },
    },
    {
      why: 'null preference, has both: email',
      contact: { email: EMAIL, address: ADDRESS, preferredChannel: null },
      expected: { channel: 'email' },
    },
    { why: 'no preference, only email', contact: { email: EMAIL }, expected: { channel: 'email' } },
    { why: 'no preference, only address', contact: { address: ADDRESS }, expected: { channel: 'letter' } },
    // A preference that cannot be honoured falls through the order.
    {
      why: 'prefers letter, no address: email',
      contact: { email: EMAIL, preferredChannel: 'letter' },
      expected: { channel: 'email' },
    },
    {
      why: 'prefers letter, address with no lines: email',
      contact: { email: EMAIL, address: { lines: [], country: 'AU' }, preferredChannel: 'letter' },
      expected: { channel: 'email' },
    },
    {
      why: 'prefers email, opted out: letter',
      contact: { email: EMAIL, emailOptOut: true, address: ADDRESS, preferredChannel: 'email' },
      expected: { channel: 'letter' },
    },
    {
      why: 'prefers email, bounced: letter',
      contact: { email: EMAIL, emailBounced: true, address: ADDRESS, preferredChannel: 'email' },
      expected: { channel: 'letter' },
    },
    {
      why: 'prefers email, no email: letter',
      contact: { address: ADDRESS, preferredChannel: 'email' },
      expected: { channel: 'letter' },
    },
    // Opt-out and bounce make an email unusable.
    {
      why: 'opted out, has address: letter',
      contact: { email: EMAIL, emailOptOut: true, address: ADDRESS },
      expected: { channel: 'letter' },
    },
    {
      why: 'bounced, has address: letter',
      contact: { email: EMAIL, emailBounced: true, address: ADDRESS },
      expected: { channel: 'letter' },
    },
    {
      why: 'opted out, no address: no_address',
      contact: { email: EMAIL, emailOptOut: true },
      expected: { channel: null, reason: 'no_address' },
    },
    {
      why: 'bounced, no address: no_address',
      contact: { email: EMAIL, emailBounced: true, address: null },
      expected: { channel: null, reason: 'no_address' },
    },
    {
      why: 'explicit false flags are usable',
      contact: { email: EMAIL, emailOptOut: false, emailBounced: false },
      expected: { channel: 'email' },
    },
    // Nothing known.
    { why: 'nothing at all: no_address', contact: {}, expected: { channel: null, reason: 'no_address' } },
    {
      why: 'null email and address: no_address',
      contact: { email: null, address: null },
      expected: { channel: null, reason: 'no_address' },
    },
    {
      why: 'empty email string: no_address',
      contact: { email: '' },
      expected: { channel: null, reason: 'no_address' },
    },
    {
      why: 'address without lines: no_address',
      contact: { address: { lines: [], country: 'AU' } },
      expected: { channel: null, reason: 'no_address' },
    },
    {
      why: 'prefers letter, nothing usable: no_address',
      contact: { preferredChannel: 'letter', email: EMAIL, emailOptOut: true },
      expected: { channel: null, reason: 'no_address' },
    },
    // Do not contact overrides everything.
    {
      why: 'do not contact, has both',
      contact: { email: EMAIL, address: ADDRESS, doNotContact: true },
      expected: { channel: null, reason: 'do_not_contact' },
    },
    {
      why: 'do not contact, prefers letter',
      contact: { address: ADDRESS, preferredChannel: 'letter', doNotContact: true },
      expected: { channel: null, reason: 'do_not_contact' },
    },
    {
      why: 'do not contact, nothing known: do_not_contact wins over no_address',
      contact: { doNotContact: true },
      expected: { channel: null, reason: 'do_not_contact' },
    },
    {
      why: 'doNotContact false has no effect',
      contact: { email: EMAIL, doNotContact: false },
      expected: { channel: 'email' },
    },
  ];

  test.each(cases)('$why', ({ contact, expected }) => {
    expect(chooseMailChannel(contact)).toEqual(expected);
  });

  test('never picks email for an opted-out address, whatever else is set', () => {
    const variants: ContactPoints[] = [
      { email: EMAIL, emailOptOut: true },
      { email: EMAIL, emailOptOut: true, preferredChannel: 'email' },
      { email: EMAIL, emailOptOut: true, address: ADDRESS, preferredChannel: 'email' },
      { email: EMAIL, emailOptOut: true, emailBounced: false, preferredChannel: 'email' },
    ];
    for (const c of variants) expect(chooseMailChannel(c).channel).not.toBe('email');
  });

  test('does not modify its input', () => {
    const contact: ContactPoints = { email: EMAIL, address: ADDRESS, preferredChannel: 'letter' };
    const copy = JSON.parse(JSON.stringify(contact));
    chooseMailChannel(contact);
    expect(contact).toEqual(copy);
  });
});
