// Overview: today and the last 30 days from GetReport (days in the user's
// time zone), with a bar chart of clicks and conversions per day. Refreshes
// every 10 seconds so a test click shows up while you watch.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "preact/hooks";

import type { ReportRow } from "@batonhq/client/web";
import { dayIn, daysBetween, formatTime, startOfDay, sumMoney } from "./format.js";
import { ErrorBox, MoneyList, Section, useErrorText, useSession, useT } from "./ui";

type Day = {
  day: string;
  clicks: bigint;
  unique: bigint;
  conversions: bigint;
  pending: bigint;
  approved: bigint;
  rejected: bigint;
  reversed: bigint;
  sales: { currencyCode: string; amountMinor: bigint }[];
  commPending: { currencyCode: string; amountMinor: bigint }[];
  commApproved: { currencyCode: string; amountMinor: bigint }[];
};

function emptyDay(day: string): Day {
  return { day, clicks: 0n, unique: 0n, conversions: 0n, pending: 0n, approved: 0n, rejected: 0n, reversed: 0n, sales: [], commPending: [], commApproved: [] };
}

function add(d: Day, r: ReportRow | Day) {
  if ("day" in r && "unique" in r) {
    const x = r as Day;
    d.clicks += x.clicks; d.unique += x.unique; d.conversions += x.conversions; d.pending += x.pending;
    d.approved += x.approved; d.rejected += x.rejected; d.reversed += x.reversed;
    d.sales = sumMoney([...d.sales, ...x.sales]); d.commPending = sumMoney([...d.commPending, ...x.commPending]);
    d.commApproved = sumMoney([...d.commApproved, ...x.commApproved]);
    return;
  }
  const row = r as ReportRow;
  d.clicks += row.clicks; d.unique += row.uniqueClicks; d.conversions += row.conversions;
  d.pending += row.pendingConversions; d.approved += row.approvedConversions;
  d.rejected += row.rejectedConversions; d.reversed += row.reversedConversions;
  d.sales = sumMoney([...d.sales, ...row.sales]);
  d.commPending = sumMoney([...d.commPending, ...row.commissionsPending]);
  d.commApproved = sumMoney([...d.commApproved, ...row.commissionsApproved]);
}

export function Overview() {
  const { client, tz, lang } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [days, setDays] = useState<Day[] | null>(null);
  const [error, setError] = useState("");
  const [updated, setUpdated] = useState<Date | null>(null);

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      const now = new Date();
      const from = startOfDay(now, tz, 29);
      const end = new Date(startOfDay(now, tz, 0).getTime() + 36 * 3600 * 1000);
      const byDay = new Map<string, Day>();
      for (const d of daysBetween(dayIn(from, tz), dayIn(now, tz))) byDay.set(d, emptyDay(d));
      let token = "";
      for (let i = 0; i < 50; i++) {
        const res = await client.attribution.getReport({
          timeRange: { start: timestampFromDate(from), end: timestampFromDate(end) },
          timeZone: tz, pageSize: 1000, pageToken: token,
        });
        for (const r of res.rows) {
          const d = byDay.get(r.day) ?? emptyDay(r.day);
          add(d, r);
          byDay.set(r.day, d);
        }
        token = res.nextPageToken;
        if (!token) break;
      }
      return [...byDay.values()].filter((d) => d.day <= dayIn(now, tz)).sort((a, b) => (a.day < b.day ? -1 : 1));
    };
    const run = () =>
      load().then(
        (d) => {
          if (stopped) return;
          setDays(d);
          setError("");
          setUpdated(new Date());
        },
        (e) => !stopped && setError(errText(e)),
      );
    run();
    const timer = setInterval(run, 10000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [client, tz]);

  if (!days) return <Section title={t("nav_overview")}>{error ? <ErrorBox text={error} /> : <p>{t("loading")}</p>}</Section>;
  const today = days[days.length - 1] ?? emptyDay(dayIn(new Date(), tz));
  const total = emptyDay("");
  for (const d of days) add(total, d);
  return (
    <>
      <ErrorBox text={error} />
      <div class="grid2">
        <Totals title={t("today")} d={today} id="today" />
        <Totals title={t("last30")} d={total} id="last30" />
      </div>
      <Section title={t("chartTitle", { tz })} id="chart-title">
        <Chart days={days} />
        <p class="muted" aria-live="polite">
          {updated ? t("updated", { time: formatTime(updated, tz, lang) }) : ""}
        </p>
        <details>
          <summary>{t("day")}</summary>
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("day")}</th>
                  <th scope="col">{t("clicks")}</th>
                  <th scope="col">{t("uniqueClicks")}</th>
                  <th scope="col">{t("conversions")}</th>
                  <th scope="col">{t("approved")}</th>
                  <th scope="col">{t("commissionPending")}</th>
                  <th scope="col">{t("commissionApproved")}</th>
                </tr>
              </thead>
              <tbody>
                {days.map((d) => (
                  <tr key={d.day}>
                    <td>{d.day}</td>
                    <td class="num">{String(d.clicks)}</td>
                    <td class="num">{String(d.unique)}</td>
                    <td class="num">{String(d.conversions)}</td>
                    <td class="num">{String(d.approved)}</td>
                    <td><MoneyList list={d.commPending} /></td>
                    <td><MoneyList list={d.commApproved} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      </Section>
    </>
  );
}

function Totals({ title, d, id }: { title: string; d: Day; id: string }) {
  const t = useT();
  return (
    <Section title={title} id={id}>
      <dl class="stats" data-testid={`stats-${id}`}>
        <div><dt>{t("clicks")}</dt><dd class="num" data-stat="clicks">{String(d.clicks)}</dd></div>
        <div><dt>{t("uniqueClicks")}</dt><dd class="num" data-stat="unique">{String(d.unique)}</dd></div>
        <div><dt>{t("conversions")}</dt><dd class="num" data-stat="conversions">{String(d.conversions)}</dd></div>
        <div><dt>{t("pending")}</dt><dd class="num">{String(d.pending)}</dd></div>
        <div><dt>{t("approved")}</dt><dd class="num">{String(d.approved)}</dd></div>
        <div><dt>{t("rejected")} / {t("reversed")}</dt><dd class="num">{String(d.rejected)} / {String(d.reversed)}</dd></div>
        <div><dt>{t("sales")}</dt><dd><MoneyList list={d.sales} /></dd></div>
        <div><dt>{t("commissionPending")}</dt><dd><MoneyList list={d.commPending} /></dd></div>
        <div><dt>{t("commissionApproved")}</dt><dd><MoneyList list={d.commApproved} /></dd></div>
      </dl>
    </Section>
  );
}

/** Bars of clicks per day with conversions drawn over them, in plain SVG. */
function Chart({ days }: { days: Day[] }) {
  const t = useT();
  const W = 720, H = 200, pad = 28;
  const maxClicks = days.reduce((m, d) => (d.clicks > m ? d.clicks : m), 1n);
  const maxConv = days.reduce((m, d) => (d.conversions > m ? d.conversions : m), 1n);
  const bw = (W - pad * 2) / Math.max(days.length, 1);
  const y = (v: bigint, max: bigint) => H - pad - (Number(v) / Number(max)) * (H - pad * 2);
  const line = days.map((d, i) => `${pad + bw * i + bw / 2},${y(d.conversions, maxConv)}`).join(" ");
  const label = days.map((d) => `${d.day}: ${d.clicks} ${t("clicks")}, ${d.conversions} ${t("conversions")}`).join("; ");
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} preserveAspectRatio="none">
        <line x1={pad} y1={H - pad} x2={W - pad} y2={H - pad} class="axis" />
        {days.map((d, i) => (
          <rect key={d.day} x={pad + bw * i + 1} y={y(d.clicks, maxClicks)} width={Math.max(bw - 2, 1)} height={H - pad - y(d.clicks, maxClicks)} class="bar">
            <title>{`${d.day}: ${d.clicks}`}</title>
          </rect>
        ))}
        <polyline points={line} class="conv" fill="none" />
        <text x={pad} y={H - 8} class="tick">{days[0]?.day ?? ""}</text>
        <text x={W - pad} y={H - 8} class="tick" text-anchor="end">{days[days.length - 1]?.day ?? ""}</text>
        <text x={pad} y={16} class="tick">{`${t("clicks")} ≤ ${maxClicks}`}</text>
        <text x={W - pad} y={16} class="tick" text-anchor="end">{`${t("conversions")} ≤ ${maxConv}`}</text>
      </svg>
      <figcaption class="legend">
        <span class="key bar" aria-hidden="true" /> {t("clicks")} <span class="key conv" aria-hidden="true" /> {t("conversions")}
      </figcaption>
    </figure>
  );
}
