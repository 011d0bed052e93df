/** Domain types shared by the pure planning code and the services. No I/O here. */

/** Channel is where a touch is delivered; `mail` in a plan step resolves to `email` or `letter` per customer. */
export type Channel = 'email' | 'letter' | 'call' | 'newsletter';

/** TouchStatus is the life cycle of one planned contact. */
export type TouchStatus = 'scheduled' | 'queued' | 'sent' | 'done' | 'missed' | 'skipped' | 'cancelled' | 'failed';

/** StaffRole is who a person is in the business. */
export type StaffRole = 'salesperson' | 'executive' | 'manager';

/** ApiRole is what an API key may do. */
export type ApiRole = 'pos' | 'staff' | 'admin';

/** StepOffset is how long after the sale a step falls due, in calendar units of the customer's zone. */
export interface StepOffset {
  years?: number;
  months?: number;
  weeks?: number;
  days?: number;
}

/** PlanStep is one contact of a segment's plan. */
export interface PlanStep {
  step: number;
  offset: StepOffset;
  channel: 'mail' | 'call';
  /** Who signs a letter or email. */
  sender?: StaffRole;
  /** Who makes a call. */
  assignee?: StaffRole;
  /** Why the step exists, for staff (never shown to the customer). */
  purpose: string;
  /**
   * The coming contact in words meant for the customer, for their own page (Liquid, e.g. "A call from
   * {{ sender.firstName }} to check the {{ sale.mainItem }} is working out"); absent: a sensible default by channel.
   */
  customerDescription?: string;
  template?: { subject: string; body: string };
  talkingPoints?: string[];
  /** A personal letter: goes by post wherever a postal address is known (the later years' human contact). */
  preferLetter?: boolean;
  /**
   * What starts the step's clock: absent means the sale that started the plan; `referral` means each sale credited
   * to this customer's referral code (a thank-you), so the step is not part of the plan computed from the sale.
   */
  trigger?: 'referral';
}

/** SendWindow is when letters and emails may go out: ISO weekdays (1 = Monday) and local hours. */
export interface SendWindow {
  days: number[];
  start: string;
  end: string;
}

/** SegmentMatch are the rules a sale must meet: every rule given must hold; a list matches on any member. */
export interface SegmentMatch {
  categories?: string[];
  skus?: string[];
  minTotal?: string;
  maxTotal?: string;
  sources?: string[];
}

/** LaterYears says how a segment keeps in touch after the first anniversary. */
export interface LaterYears {
  humanContact: 'call' | 'letter';
}

/** Segment groups customers by what and how they bought, with its own plan and send window. */
export interface Segment {
  id: string;
  name: string;
  priority: number;
  isDefault: boolean;
  match: SegmentMatch;
  plan: PlanStep[];
  sendWindow: SendWindow;
  laterYears: LaterYears;
  /** The number of the plan version new sales get (see PlanVersion). */
  planVersion?: number;
  /** Content a manager writes once and the segment's steps use; an empty block leaves its passage out. */
  content: SegmentContent;
}

/** SegmentContent are a segment's content blocks: plain text, blank lines between paragraphs. */
export interface SegmentContent {
  careTips?: string;
  whatsNew?: string;
  serviceOffer?: string;
}

/** Postal address of a customer. */
export interface Address {
  lines: string[];
  city?: string;
  region?: string;
  postalCode?: string;
  country: string;
}

/** ContactPoints is what a channel decision needs to know about a customer. */
export interface ContactPoints {
  email?: string | null;
  emailBounced?: boolean;
  emailOptOut?: boolean;
  address?: Address | null;
  preferredChannel?: 'email' | 'letter' | null;
  doNotContact?: boolean;
}

/** PlannedTouch is one computed contact of a plan, before it is stored. */
export interface PlannedTouch {
  step: number;
  channel: Channel;
  dueAt: Date;
  status: 'scheduled' | 'missed' | 'skipped';
  reason?: string;
  senderRole?: StaffRole;
}
