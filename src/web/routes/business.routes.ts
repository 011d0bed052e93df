/**
 * The business's identity as customers see it, edited by a manager: GET|POST /console/manager/business. The form
 * saves the whole identity through the same service as PUT /v1/settings/business; the stored logo is kept (the API
 * uploads one).
 */
import type { FastifyInstance } from 'fastify';
import {
  getBusinessIdentity,
  sendsHeldReason,
  updateBusinessIdentity,
  type BusinessIdentity,
  type IdentityInput,
} from '../../services/business-identity.service';
import { ValidationError } from '../../services/errors';
import { actorOf, staffOf } from '../auth';
import type { WebDeps } from '../plugin';
import { addressFields } from '../address-form';

/** BusinessForm is the form's fields, as posted (every value a string; checkboxes absent when off). */
type BusinessForm = Partial<
  Record<
    | 'name'
    | 'addressLines'
    | 'city'
    | 'region'
    | 'postalCode'
    | 'country'
    | 'phone'
    | 'website'
    | 'emailFrom'
    | 'closing'
    | 'showTitle'
    | 'showBusiness'
    | 'showPhone',
    string
  >
>;

/** formOf fills the form from the identity in force. */
function formOf(i: BusinessIdentity): BusinessForm {
  return {
    name: i.name ?? '',
    ...addressFields(i.address),
    phone: i.phone ?? '',
    website: i.website ?? '',
    emailFrom: i.unset.includes('emailFrom') ? '' : i.emailFrom,
    closing: i.signature.closing,
    showTitle: i.signature.showTitle ? 'on' : undefined,
    showBusiness: i.signature.showBusiness ? 'on' : undefined,
    showPhone: i.signature.showPhone ? 'on' : undefined,
  };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** inputOf turns the posted form into the service's input; an address is sent when any of its fields is filled. */
function inputOf(f: BusinessForm): IdentityInput {
  const lines = str(f.addressLines)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const anyAddress = lines.length > 0 || [f.city, f.region, f.postalCode, f.country].some((v) => str(v).trim());
  return {
    name: str(f.name),
    address: anyAddress
      ? { lines, city: str(f.city), region: str(f.region), postalCode: str(f.postalCode), country: str(f.country) }
      : null,
    phone: str(f.phone),
    website: str(f.website),
    emailFrom: str(f.emailFrom),
    signature: {
      closing: str(f.closing),
      showTitle: f.showTitle === 'on',
      showBusiness: f.showBusiness === 'on',
      showPhone: f.showPhone === 'on',
    },
  };
}

/** FIELD_OF maps a service field name onto the form field (and the input's id) that shows its error. */
const FIELD_OF: Record<string, string> = {
  'address.lines': 'addressLines',
  'address.city': 'city',
  'address.region': 'region',
  'address.postalCode': 'postalCode',
  'address.country': 'country',
  'signature.closing': 'closing',
};

function formField(field: string): string {
  return FIELD_OF[field] ?? FIELD_OF[field.replace(/\.\d+$/, '')] ?? field;
}

/** LABEL_OF names a form field in the error summary as its label does. */
const LABEL_OF: Record<string, string> = {
  name: 'Business name',
  addressLines: 'Street address',
  city: 'Town or city',
  region: 'State or region',
  postalCode: 'Postcode',
  country: 'Country code',
  phone: 'Phone',
  website: 'Website',
  emailFrom: 'Emails come from',
  closing: 'Closing line',
};

/** fieldError is the error shown beside the field (the service's reason) and in the summary (with the label). */
function fieldError(err: ValidationError) {
  const field = formField(err.field);
  const reason = err.message.replace(/^[^:]*: /, '');
  return { field, message: `${reason.charAt(0).toUpperCase()}${reason.slice(1)}.`, label: LABEL_OF[field] ?? field };
}

/** businessRoutes registers the business identity page. */
export async function businessRoutes(app: FastifyInstance, { ctx }: WebDeps): Promise<void> {
  const page = (identity: BusinessIdentity, extra: Record<string, unknown> = {}) => ({
    title: 'Your business',
    identity,
    held: sendsHeldReason(identity),
    form: formOf(identity),
    ...extra,
  });

  app.get<{ Querystring: { saved?: string } }>(
    '/manager/business',
    { preHandler: app.requireManager },
    async (req, reply) =>
      reply.page('manager-business', page(await getBusinessIdentity(ctx), { saved: req.query.saved === '1' })),
  );

  app.post<{ Body: BusinessForm }>('/manager/business', { preHandler: app.requireManager }, async (req, reply) => {
    const form = (req.body ?? {}) as BusinessForm;
    try {
      await updateBusinessIdentity(ctx, inputOf(form), actorOf(staffOf(req)));
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return reply.page(
        'manager-business',
        page(await getBusinessIdentity(ctx), { form, error: fieldError(err) }),
        400,
      );
    }
    return reply.redirect('/console/manager/business?saved=1', 303);
  });
}
