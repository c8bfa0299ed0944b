// Money in its currency's minor units, exactly; times in a zone; FC2 ts in
// Japan time; CSV a spreadsheet opens safely.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  csvCell, currencyDecimals, dayIn, daysBetween, fc2Ts, formatBps, formatMoney, formatTime, minorToDecimal, startOfDay, sumMoney, toCsv, toDate,
} from "../../src/format.js";

test("currency decimals follow ISO 4217", () => {
  assert.equal(currencyDecimals("JPY"), 0);
  assert.equal(currencyDecimals("USD"), 2);
  assert.equal(currencyDecimals("EUR"), 2);
  assert.equal(currencyDecimals("KWD"), 3);
});

test("minor units become exact decimals", () => {
  assert.equal(minorToDecimal(1980n, "JPY"), "1980");
  assert.equal(minorToDecimal(1999n, "USD"), "19.99");
  assert.equal(minorToDecimal(5n, "USD"), "0.05");
  assert.equal(minorToDecimal(-5n, "USD"), "-0.05");
  assert.equal(minorToDecimal(1234n, "KWD"), "1.234");
  // Beyond 2^53: no floating point on the way.
  assert.equal(minorToDecimal(900719925474099312n, "USD"), "9007199254740993.12");
});

test("money is shown in the user's language with the currency's decimals", () => {
  assert.equal(formatMoney({ currencyCode: "JPY", amountMinor: 1980n }, "en-US"), "¥1,980");
  assert.equal(formatMoney({ currencyCode: "JPY", amountMinor: 1980n }, "ja-JP"), "￥1,980");
  assert.equal(formatMoney({ currencyCode: "USD", amountMinor: 1999n }, "en-US"), "$19.99");
  assert.equal(formatMoney({ currencyCode: "USD", amountMinor: 1999n }, "ja-JP"), "$19.99");
  assert.equal(formatMoney({ currencyCode: "USD", amountMinor: 100n }, "en-US"), "$1.00");
  assert.equal(formatMoney({ currencyCode: "USD", amountMinor: -250n }, "en-US"), "-$2.50");
  assert.equal(formatMoney({ currencyCode: "USD", amountMinor: 900719925474099312n }, "en-US"), "$9,007,199,254,740,993.12");
  assert.equal(formatMoney(undefined, "en-US"), "—");
});

test("sums stay per currency", () => {
  assert.deepEqual(
    sumMoney([{ currencyCode: "USD", amountMinor: 5n }, { currencyCode: "JPY", amountMinor: 100n }, { currencyCode: "USD", amountMinor: 7n }]),
    [{ currencyCode: "JPY", amountMinor: 100n }, { currencyCode: "USD", amountMinor: 12n }],
  );
});

test("times are shown in the chosen zone, JST for Japan", () => {
  const ts = { seconds: 1164188400n, nanos: 0 }; // 2006-11-22T09:40:00Z
  assert.equal(formatTime(ts, "Asia/Tokyo", "ja"), "2006-11-22 18:40:00 JST");
  assert.equal(formatTime(ts, "UTC", "en"), "2006-11-22 09:40:00 UTC");
  assert.equal(formatTime(ts, "Europe/Berlin", "en"), "2006-11-22 10:40:00 GMT+1");
  assert.equal(formatTime(ts, "America/New_York", "en"), "2006-11-22 04:40:00 EST");
  assert.equal(formatTime(undefined, "UTC", "en"), "—");
});

test("FC2 ts is the time in Japan as YYYYMMDDhhmmss", () => {
  assert.equal(fc2Ts(new Date("2006-11-22T09:50:00Z")), "20061122185000");
  // Just before midnight UTC is the next morning in Japan.
  assert.equal(fc2Ts(new Date("2026-12-31T23:59:59Z")), "20270101085959");
});

test("day boundaries follow the zone, across daylight saving", () => {
  const now = new Date("2026-03-29T12:00:00Z"); // the day Europe moves to summer time
  assert.equal(startOfDay(now, "Europe/Berlin", 0).toISOString(), "2026-03-28T23:00:00.000Z");
  assert.equal(startOfDay(now, "Europe/Berlin", 1).toISOString(), "2026-03-27T23:00:00.000Z");
  assert.equal(startOfDay(now, "Asia/Tokyo", 0).toISOString(), "2026-03-28T15:00:00.000Z");
  assert.equal(dayIn(new Date("2026-03-28T15:30:00Z"), "Asia/Tokyo"), "2026-03-29");
  const days = daysBetween("2026-02-27", "2026-03-02");
  assert.deepEqual(days, ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]);
  assert.equal(toDate({ seconds: 1n, nanos: 500000000 }).getTime(), 1500);
});

test("basis points as percent", () => {
  assert.equal(formatBps(125), "1.25%");
  assert.equal(formatBps(0), "0.00%");
});

test("CSV quotes what needs it and keeps formulas as text", () => {
  assert.equal(csvCell("plain"), "plain");
  assert.equal(csvCell('a,"b"'), '"a,""b"""');
  assert.equal(csvCell("line\nbreak"), '"line\nbreak"');
  assert.equal(csvCell("=HYPERLINK(\"http://evil\")"), "\"'=HYPERLINK(\"\"http://evil\"\")\"");
  assert.equal(csvCell("+1"), "'+1");
  assert.equal(csvCell("-1"), "'-1");
  assert.equal(csvCell("@SUM(A1)"), "'@SUM(A1)");
  assert.equal(csvCell(null), "");
  assert.equal(toCsv([["a", "b"], [1, "注文"]]), "a,b\r\n1,注文\r\n");
});
