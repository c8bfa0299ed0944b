// Formatting for the console: money in its currency's minor units, exactly
// (no floating point), times in the user's zone, FC2 `ts` in Japan time,
// and CSV that a spreadsheet opens safely. Pure functions, unit-tested in
// test/unit/format.test.mjs.

/** Minor-unit digits of ISO 4217 currencies that differ from 2. */
const DECIMALS = {
  JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, UGX: 0, XAF: 0, XOF: 0, XPF: 0, PYG: 0, RWF: 0, KMF: 0, GNF: 0, DJF: 0, BIF: 0, VUV: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
};

/** The number of minor-unit digits of a currency (JPY 0, USD 2, KWD 3). */
export function currencyDecimals(code) {
  return Object.prototype.hasOwnProperty.call(DECIMALS, code) ? DECIMALS[code] : 2;
}

/**
 * The exact decimal string of an amount in minor units: 1980n JPY -> "1980",
 * 1999n USD -> "19.99", -5n USD -> "-0.05".
 */
export function minorToDecimal(amountMinor, code) {
  const d = currencyDecimals(code);
  let n = BigInt(amountMinor ?? 0);
  const neg = n < 0n;
  if (neg) n = -n;
  let s = n.toString();
  if (d > 0) {
    s = s.padStart(d + 1, "0");
    s = s.slice(0, -d) + "." + s.slice(-d);
  }
  return (neg ? "-" : "") + s;
}

/**
 * Money as the user reads it in their language: "¥1,980", "$19.99",
 * "US$19.99" in Japanese. money is {currencyCode, amountMinor: bigint}.
 * Exact for any amount: the number is passed to Intl as a decimal string.
 */
export function formatMoney(money, locale) {
  if (!money || !money.currencyCode) return "—";
  const code = money.currencyCode;
  const d = currencyDecimals(code);
  const dec = minorToDecimal(money.amountMinor, code);
  try {
    const nf = new Intl.NumberFormat(locale, { style: "currency", currency: code, minimumFractionDigits: d, maximumFractionDigits: d });
    return nf.format(dec);
  } catch {
    return `${dec} ${code}`;
  }
}

/** Sums a list of Money per currency: [{currencyCode, amountMinor}] sorted by code. */
export function sumMoney(list) {
  const m = new Map();
  for (const x of list || []) {
    if (!x || !x.currencyCode) continue;
    m.set(x.currencyCode, (m.get(x.currencyCode) ?? 0n) + BigInt(x.amountMinor ?? 0));
  }
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([currencyCode, amountMinor]) => ({ currencyCode, amountMinor }));
}

/** A protobuf Timestamp ({seconds: bigint, nanos}) or Date as a Date, or null. */
export function toDate(ts) {
  if (!ts) return null;
  if (ts instanceof Date) return ts;
  return new Date(Number(BigInt(ts.seconds ?? 0)) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6));
}

/** The user's IANA time zone (what the browser says), e.g. "Europe/Berlin". */
export function userTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/**
 * A time in a zone with the zone named: "2026-12-01 21:38:47 GMT+1".
 * Numeric, the same shape in every language, sortable by eye.
 */
export function formatTime(ts, timeZone, locale) {
  const d = toDate(ts);
  if (!d || Number.isNaN(d.getTime())) return "—";
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  }).formatToParts(d)) parts[p.type] = p.value;
  const zone = timeZone === "Asia/Tokyo" ? (locale && locale.startsWith("ja") ? "JST" : "JST") : parts.timeZoneName;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${zone}`;
}

/** FC2's `ts`: the time in Japan as YYYYMMDDhhmmss (what the image tag carries). */
export function fc2Ts(ts) {
  const d = toDate(ts);
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-US", {
    timeZone: "Asia/Tokyo", hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(d)) parts[p.type] = p.value;
  return `${parts.year}${parts.month}${parts.day}${parts.hour}${parts.minute}${parts.second}`;
}

/** The calendar day ("YYYY-MM-DD") of a time in a zone. */
export function dayIn(ts, timeZone) {
  const d = toDate(ts);
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(d)) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/**
 * The start of the day `daysBack` days before the day of `now` in timeZone,
 * as a Date: the lower bound of "today" (0) or "the last 30 days" (29).
 */
export function startOfDay(now, timeZone, daysBack = 0) {
  const day = dayIn(now, timeZone);
  const [y, m, d] = day.split("-").map(Number);
  // Find the instant whose local day starts at 00:00 in timeZone: guess UTC
  // midnight, then correct by the zone's offset at that instant (twice, for
  // offset changes around the guess).
  let t = Date.UTC(y, m - 1, d - daysBack);
  for (let i = 0; i < 2; i++) {
    const off = zoneOffsetMs(new Date(t), timeZone);
    t = Date.UTC(y, m - 1, d - daysBack) - off;
  }
  return new Date(t);
}

/** The offset of timeZone from UTC at instant d, in milliseconds. */
export function zoneOffsetMs(d, timeZone) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(d)) parts[p.type] = p.value;
  const asUTC = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return asUTC - Math.floor(d.getTime() / 1000) * 1000;
}

/** The days from `from` to `to` inclusive, "YYYY-MM-DD" (calendar arithmetic). */
export function daysBetween(from, to) {
  const out = [];
  const [y, m, d] = from.split("-").map(Number);
  for (let i = 0; i < 400; i++) {
    const x = new Date(Date.UTC(y, m - 1, d + i));
    const s = x.toISOString().slice(0, 10);
    out.push(s);
    if (s >= to) break;
  }
  return out;
}

/** Basis points as a percentage: 125 -> "1.25%". */
export function formatBps(bps) {
  const n = Number(bps ?? 0);
  return `${(n / 100).toFixed(2)}%`;
}

/**
 * One CSV cell: quoted when needed, and a cell that a spreadsheet would take
 * for a formula (=, +, -, @, tab, CR at the start) is prefixed with ' so that
 * an order ID like "=HYPERLINK(...)" stays text.
 */
export function csvCell(v) {
  let s = v === null || v === undefined ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  if (/[",\r\n]/.test(s)) s = '"' + s.replace(/"/g, '""') + '"';
  return s;
}

/** Rows (arrays) as CSV text with CRLF line ends (RFC 4180). */
export function toCsv(rows) {
  return rows.map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}
