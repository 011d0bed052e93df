/**
 * The default seven-step first-year plan, copied verbatim from migrations/20261122000100_default_segment.sql so the
 * pure domain tests do not read the migration (no I/O). Keep the two in step.
 */
import type { PlanStep } from '../../../src/domain/types';

export const DEFAULT_PLAN: PlanStep[] = [
  {
    step: 1,
    offset: { days: 2 },
    channel: 'mail',
    sender: 'salesperson',
    purpose: 'Thank you; what to expect',
    template: {
      subject: 'Thank you, {{ customer.firstName }}',
      body: 'Dear {{ customer.firstName }},\n\nThank you for choosing us for your {{ sale.mainItem }}. It was a pleasure to help you.\n\nOver the coming months I will be in touch now and then to make sure everything is going well. If anything at all comes up, reply to this message or call me directly.\n\nIf a friend could use our help, your referral code is {{ customer.referralCode }}.',
    },
  },
  {
    step: 2,
    offset: { days: 7 },
    channel: 'call',
    assignee: 'salesperson',
    purpose: 'Make sure the customer is happy with the product',
    talkingPoints: [
      'Has the {{ sale.mainItem }} arrived and is it what you expected?',
      'Any questions about using or caring for it?',
      'Not a sales call: listen, note anything to fix.',
    ],
  },
  {
    step: 3,
    offset: { months: 1 },
    channel: 'mail',
    sender: 'salesperson',
    purpose: 'Getting the most out of the purchase',
    template: {
      subject: 'Getting the most from your {{ sale.mainItem }}',
      body: 'Dear {{ customer.firstName }},\n\nIt has been a month since you took home your {{ sale.mainItem }}. Here are a few things our customers find make the biggest difference in the first months.\n\nIf you would like a hand with any of them, I am only a call away.',
    },
  },
  {
    step: 4,
    offset: { months: 3 },
    channel: 'mail',
    sender: 'salesperson',
    purpose: 'Something of real value to this segment',
    template: {
      subject: 'Something useful for you, {{ customer.firstName }}',
      body: 'Dear {{ customer.firstName }},\n\nI came across something I thought you would find useful, and wanted to pass it on.\n\nAs always, if there is anything we can do for you, just let me know.',
    },
  },
  {
    step: 5,
    offset: { months: 6 },
    channel: 'mail',
    sender: 'salesperson',
    purpose: 'Something of real value to this segment',
    template: {
      subject: 'Six months on, {{ customer.firstName }}',
      body: 'Dear {{ customer.firstName }},\n\nSix months ago you chose your {{ sale.mainItem }}. I hope it is serving you well. Here is something we have learned that may help you enjoy it for years to come.',
    },
  },
  {
    step: 6,
    offset: { months: 9 },
    channel: 'mail',
    sender: 'salesperson',
    purpose: 'Something of real value to this segment',
    template: {
      subject: 'A note for you, {{ customer.firstName }}',
      body: 'Dear {{ customer.firstName }},\n\nA short note with something of value for you this season. Thank you for being our customer.',
    },
  },
  {
    step: 7,
    offset: { years: 1 },
    channel: 'call',
    assignee: 'executive',
    purpose: 'A giving call: thanks, anything we can do?',
    talkingPoints: [
      'Thank them for a year as our customer.',
      'Ask: is there anything at all we can do for you?',
      'Never a sales pitch.',
    ],
  },
];
