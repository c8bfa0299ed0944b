import { subtle, toHex, utf8 } from "./crypto.js";

/**
 * The FC2 image tag / server POST parameters that `sh` covers, by their FC2
 * names, exactly as you send them. An omitted parameter counts as "".
 */
export interface Fc2ShFields {
  /** Your numeric shop ID. */
  shopid?: string | number | bigint;
  /** The order ID. */
  unique_id?: string;
  /** The buyer's user name. */
  uname?: string;
  /** The buyer's email address. */
  email?: string;
  /** Amount in yen. */
  amount_y?: string | number | bigint;
  /** Amount in dollars, e.g. "19.99". */
  amount_d?: string;
  /**
   * Issue time, `yyyymmddhhmmss` in Japan time; a `Date` is formatted that
   * way for you.
   */
  ts?: string | Date;
  /** "1" for a recurring charge, "0" otherwise; a boolean becomes "1"/"0". */
  recurring?: string | number | boolean;
  /** Item code. */
  item_code?: string;
  /** Number of units. */
  unit_num?: string | number;
}

/** Options of {@link fc2Sh}. */
export interface Fc2ShOptions {
  /** Return only the first 16 hex characters (FC2's short form). Default false. */
  short?: boolean;
}

const order = [
  "shopid",
  "unique_id",
  "uname",
  "email",
  "amount_y",
  "amount_d",
  "ts",
  "recurring",
  "item_code",
  "unit_num",
] as const satisfies readonly (keyof Fc2ShFields)[];

/**
 * Computes FC2's `sh` for an image tag or server POST: the SHA-1, in lower
 * case hex, of your shop password followed by shopid, unique_id, uname,
 * email, amount_y, amount_d, ts, recurring, item_code and unit_num (each as
 * sent; omitted ones as ""). Baton checks it when the shop requires
 * signatures.
 *
 * @param password - the shop's secret (the FC2 shop password).
 * @returns 40 hex characters, or 16 with `{ short: true }`.
 *
 * @example
 * ```ts
 * const sh = await fc2Sh(password, { shopid: 26, unique_id: "100", amount_y: 1980, ts: new Date() });
 * ```
 */
export async function fc2Sh(password: string, fields: Fc2ShFields, options: Fc2ShOptions = {}): Promise<string> {
  let input = password;
  for (const name of order) {
    input += fieldString(fields[name]);
  }
  const hex = toHex(await subtle().digest("SHA-1", utf8(input)));
  return options.short ? hex.slice(0, 16) : hex;
}

function fieldString(value: string | number | bigint | boolean | Date | undefined): string {
  if (value === undefined || value === null) {
    return "";
  }
  if (typeof value === "boolean") {
    return value ? "1" : "0";
  }
  if (value instanceof Date) {
    return fc2Timestamp(value);
  }
  return String(value);
}

/** yyyymmddhhmmss in Japan time (UTC+9, no daylight saving time). */
function fc2Timestamp(d: Date): string {
  if (Number.isNaN(d.getTime())) {
    throw new RangeError("fc2Sh: ts is an invalid Date");
  }
  const jst = new Date(d.getTime() + 9 * 3600 * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return (
    p(jst.getUTCFullYear(), 4) +
    p(jst.getUTCMonth() + 1) +
    p(jst.getUTCDate()) +
    p(jst.getUTCHours()) +
    p(jst.getUTCMinutes()) +
    p(jst.getUTCSeconds())
  );
}
