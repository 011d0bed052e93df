/** The postal address as the console's forms show it: one textarea of street lines, then town, region, postcode, country. */

/** AddressFields are an address form's fields, as strings. */
export interface AddressFields {
  addressLines: string;
  city: string;
  region: string;
  postalCode: string;
  country: string;
}

/** addressFields fills an address form's fields from a stored address (empty fields when there is none). */
export function addressFields(
  a:
    | {
        lines: string[];
        city?: string | null;
        region?: string | null;
        postalCode?: string | null;
        country?: string | null;
      }
    | null
    | undefined,
): AddressFields {
  return {
    addressLines: a?.lines.join('\n') ?? '',
    city: a?.city ?? '',
    region: a?.region ?? '',
    postalCode: a?.postalCode ?? '',
    country: a?.country ?? '',
  };
}
