// Local-time formatting of RFC 3339 UTC timestamps from the backend. The formatters are made
// once: creating one per call (what toLocaleTimeString does) is slow and garbage-heavy under
// a message firehose.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

// Messages arriving in a burst share their second: format each second once.
let lastSecond = "";
let lastFormatted = "";

export function localTime(rfc3339: string): string {
  const second = rfc3339.slice(0, 19);
  if (second === lastSecond && rfc3339.endsWith("Z")) return lastFormatted;
  const d = new Date(rfc3339);
  const formatted = Number.isNaN(d.getTime()) ? "" : timeFormat.format(d);
  if (rfc3339.endsWith("Z")) {
    lastSecond = second;
    lastFormatted = formatted;
  }
  return formatted;
}

export function localDateTime(rfc3339: string): string {
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? rfc3339 : dateTimeFormat.format(d);
}
