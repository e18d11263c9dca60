// The pages' strings in the viewer's language. Django's JavaScript catalog (/i18n/js, a classic
// script each page loads before its modules) defines gettext, ngettext and interpolate; without
// it (a page that does not load it) the English text stands.
const catalog = globalThis.django ?? {};

export const gettext = catalog.gettext ?? ((text) => text);
export const ngettext = catalog.ngettext ?? ((one, many, count) => (count === 1 ? one : many));

/** `format(gettext("Shown from zoom %(zoom)s"), { zoom: 12 })`: named placeholders, translatable. */
export function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** The page's language (its <html lang>), for numbers, dates and times. */
export const language = document.documentElement.lang || "en";

/** A day ("2027-03-01") as the language writes it: ISO in English, ДД.ММ.ГГГГ in ru and kk. */
export function formatDay(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
  if (!match || language === "en") return iso ?? "";
  return `${match[3]}.${match[2]}.${match[1]}`;
}
