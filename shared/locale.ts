// The organisation's locale: how the dashboard writes numbers, money and dates (a BCP 47 tag
// that Intl knows, such as en-US, de-DE, ja-JP).

export const DEFAULT_LOCALE = "en-US";

export function isLocale(tag: string): boolean {
  if (!/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/.test(tag)) return false;
  try {
    return Intl.NumberFormat.supportedLocalesOf([tag]).length === 1;
  } catch {
    return false;
  }
}
