// The conversion log: server-side filters and paging (one page of at most 50
// in the browser, however many million are stored), each conversion's
// explanation in words, approve / reject / reverse one or many with a
// reason, and CSV of what is listed. Refusals and the FC2 tag builder for
// advertisers live here too.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "preact/hooks";

import { AttributionPath, ConversionSource, ConversionStatus, Fc2TagFormat, StatusReason } from "@batonhq/client/web";
import type { Conversion, ExplainConversionResponse } from "@batonhq/client/web";
import { fc2Ts, formatTime, minorToDecimal, toCsv } from "./format.js";
import {
  CopyButton, ErrorBox, Field, Money, Notice, Pager, Section, Time, download, enumName, useErrorText, usePaged, useSession, useT,
} from "./ui";

const PAGE = 50;

type Filters = { status: number; offerId: string; publisherId: string; from: string; to: string; orderId: string; clickId: string; includeTest: boolean };
const noFilters: Filters = { status: 0, offerId: "", publisherId: "", from: "", to: "", orderId: "", clickId: "", includeTest: false };

/** "2026-12-01" in the user's zone as the start of that day. */
function dayStart(day: string, tz: string): Date {
  const [y, m, d] = day.split("-").map(Number);
  const guess = Date.UTC(y, m - 1, d);
  const parts: Record<string, string> = {};
  for (const p of new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(guess)))
    parts[p.type] = p.value;
  const off = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second) - guess;
  return new Date(guess - off);
}

export function Conversions() {
  const { client, who, tz, lang } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [draft, setDraft] = useState<Filters>(noFilters);
  const [filters, setFilters] = useState<Filters>(noFilters);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState<string>("");
  const [reason, setReason] = useState<number>(StatusReason.VALID_SALE);
  const [note, setNote] = useState("");
  const [notice, setNotice] = useState("");
  const [actionError, setActionError] = useState("");
  const canChange = who.role === "ADMIN" || who.role === "ADVERTISER";

  const list = usePaged<Conversion>(async (token) => {
    const start = filters.from ? dayStart(filters.from, tz) : undefined;
    const end = filters.to ? new Date(dayStart(filters.to, tz).getTime() + 86400000) : undefined;
    const res = await client.conversions.listConversions({
      pageSize: PAGE, pageToken: token, status: filters.status, offerId: filters.offerId.trim(),
      publisherId: filters.publisherId.trim(), orderId: filters.orderId.trim(), clickId: filters.clickId.trim(),
      includeTest: filters.includeTest,
      timeRange: start || end ? { start: start && timestampFromDate(start), end: end && timestampFromDate(end) } : undefined,
    });
    setSelected(new Set());
    return [res.conversions, res.nextPageToken];
  }, [filters]);

  const change = async (to: ConversionStatus) => {
    setNotice("");
    setActionError("");
    const chosen = (list.items ?? []).filter((c) => selected.has(c.id));
    let ok = 0;
    const failures: string[] = [];
    for (const c of chosen) {
      try {
        await client.conversions.updateConversionStatus({ id: c.id, status: to, reason, note, expectedStatus: c.status });
        ok++;
      } catch (e) {
        failures.push(t("changeFailed", { id: c.orderId, msg: errText(e) }));
      }
    }
    if (ok) setNotice(t("changed", { n: ok }));
    if (failures.length) setActionError(failures.join(" "));
    list.reload();
  };

  const exportCsv = () => {
    const rows: (string | number)[][] = [["id", "time", "order_id", "offer_id", "publisher_id", "click_id", "status", "currency", "amount", "commission", "test", "attribution"]];
    for (const c of list.items ?? []) {
      rows.push([
        c.id, formatTime(c.createTime, tz, lang), c.orderId, c.offerId, c.publisherId, c.clickId, enumName(ConversionStatus, c.status),
        c.amount?.currencyCode ?? "", c.amount ? minorToDecimal(c.amount.amountMinor, c.amount.currencyCode) : "",
        c.commission ? minorToDecimal(c.commission.amountMinor, c.commission.currencyCode) : "", c.test ? "true" : "false", c.attributionSummary,
      ]);
    }
    download(`conversions-page${list.page}.csv`, toCsv(rows));
  };

  const items = list.items ?? [];
  const allOn = items.length > 0 && items.every((c) => selected.has(c.id));
  const set = (k: keyof Filters, v: string | number | boolean) => setDraft({ ...draft, [k]: v });
  return (
    <>
      <Section title={t("nav_conversions")} id="conv-title">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setFilters({ ...draft });
          }}
        >
          <Field label={t("status")}>
            <select value={draft.status} onChange={(e) => set("status", Number((e.target as HTMLSelectElement).value))} name="status">
              <option value={0}>{t("any")}</option>
              <option value={ConversionStatus.PENDING}>{t("pending")}</option>
              <option value={ConversionStatus.APPROVED}>{t("approved")}</option>
              <option value={ConversionStatus.REJECTED}>{t("rejected")}</option>
              <option value={ConversionStatus.REVERSED}>{t("reversed")}</option>
            </select>
          </Field>
          <Field label={t("offer")}>
            <input name="offer" value={draft.offerId} onInput={(e) => set("offerId", (e.target as HTMLInputElement).value)} />
          </Field>
          {who.role !== "PUBLISHER" && (
            <Field label={t("publisher")}>
              <input name="publisher" value={draft.publisherId} onInput={(e) => set("publisherId", (e.target as HTMLInputElement).value)} />
            </Field>
          )}
          <Field label={t("from")}>
            <input type="date" name="from" value={draft.from} onInput={(e) => set("from", (e.target as HTMLInputElement).value)} />
          </Field>
          <Field label={t("to")}>
            <input type="date" name="to" value={draft.to} onInput={(e) => set("to", (e.target as HTMLInputElement).value)} />
          </Field>
          <Field label={t("orderId")}>
            <input name="order" value={draft.orderId} onInput={(e) => set("orderId", (e.target as HTMLInputElement).value)} />
          </Field>
          <Field label={t("clickId")}>
            <input name="click" value={draft.clickId} onInput={(e) => set("clickId", (e.target as HTMLInputElement).value)} />
          </Field>
          <label class="check">
            <input type="checkbox" name="test" checked={draft.includeTest} onChange={(e) => set("includeTest", (e.target as HTMLInputElement).checked)} />
            {t("includeTest")}
          </label>
          <div class="actions">
            <button type="submit" class="primary">{t("apply")}</button>
            <button type="button" onClick={() => { setDraft(noFilters); setFilters(noFilters); }}>{t("reset")}</button>
            <button type="button" onClick={exportCsv} disabled={items.length === 0}>{t("exportCsv")}</button>
          </div>
        </form>
        {canChange && (
          <div class="bulk" role="group" aria-label={t("selected", { n: selected.size })}>
            <strong>{t("selected", { n: selected.size })}</strong>
            <Field label={t("reason")}>
              <select value={reason} onChange={(e) => setReason(Number((e.target as HTMLSelectElement).value))} name="reason">
                {[StatusReason.VALID_SALE, StatusReason.REFUND, StatusReason.FRAUD, StatusReason.CANCELLATION, StatusReason.DUPLICATE, StatusReason.TEST, StatusReason.OTHER].map((r) => (
                  <option value={r} key={r}>{t(`reason_STATUS_REASON_${enumName(StatusReason, r)}`)}</option>
                ))}
              </select>
            </Field>
            <Field label={t("note")}>
              <input name="note" value={note} maxLength={1000} onInput={(e) => setNote((e.target as HTMLInputElement).value)} />
            </Field>
            <button type="button" class="ok" disabled={!selected.size} onClick={() => change(ConversionStatus.APPROVED)}>{t("approve")}</button>
            <button type="button" class="bad" disabled={!selected.size} onClick={() => change(ConversionStatus.REJECTED)}>{t("reject")}</button>
            <button type="button" class="bad" disabled={!selected.size} onClick={() => change(ConversionStatus.REVERSED)}>{t("reverse")}</button>
          </div>
        )}
        <Notice text={notice} />
        <ErrorBox text={actionError || list.error} />
        {list.items === null ? (
          <p>{t("loading")}</p>
        ) : items.length === 0 ? (
          <p>{t("noData")}</p>
        ) : (
          <div class="scroll">
            <table class="conversions">
              <thead>
                <tr>
                  {canChange && (
                    <th scope="col">
                      <input type="checkbox" aria-label={t("selectAll")} checked={allOn} onChange={() => setSelected(allOn ? new Set() : new Set(items.map((c) => c.id)))} />
                    </th>
                  )}
                  <th scope="col">{t("time")}</th>
                  <th scope="col">{t("orderId")}</th>
                  <th scope="col">{t("offer")}</th>
                  <th scope="col">{t("publisher")}</th>
                  <th scope="col">{t("amount")}</th>
                  <th scope="col">{t("commission")}</th>
                  <th scope="col">{t("status")}</th>
                  <th scope="col">{t("why")}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((c) => (
                  <ConversionRow
                    key={c.id} c={c} canChange={canChange} selected={selected.has(c.id)} open={open === c.id}
                    onToggle={() => { const s = new Set(selected); s.has(c.id) ? s.delete(c.id) : s.add(c.id); setSelected(s); }}
                    onOpen={() => setOpen(open === c.id ? "" : c.id)}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager {...list} />
      </Section>
    </>
  );
}

function ConversionRow(p: { c: Conversion; canChange: boolean; selected: boolean; open: boolean; onToggle: () => void; onOpen: () => void }) {
  const t = useT();
  const c = p.c;
  const status = enumName(ConversionStatus, c.status).toLowerCase();
  return (
    <>
      <tr data-order={c.orderId} data-id={c.id}>
        {p.canChange && (
          <td>
            <input type="checkbox" checked={p.selected} onChange={p.onToggle} aria-label={t("select", { id: c.orderId })} />
          </td>
        )}
        <td data-label={t("time")}><Time ts={c.createTime} /></td>
        <td data-label={t("orderId")}>
          {c.orderId}
          {c.test && <span class="badge">{t("test")}</span>}
        </td>
        <td data-label={t("offer")}>{c.offerId}</td>
        <td data-label={t("publisher")}>{c.publisherId || "—"}</td>
        <td data-label={t("amount")}><Money m={c.amount} /></td>
        <td data-label={t("commission")}><Money m={c.commission} /></td>
        <td data-label={t("status")}><span class={`status ${status}`} data-status={status}>{t(status)}</span></td>
        <td class="why">
          <button type="button" class="small" aria-expanded={p.open} onClick={p.onOpen}>
            {p.open ? t("hide") : t("why")}
          </button>
        </td>
      </tr>
      {p.open && (
        <tr class="detail">
          <td colSpan={9}>
            <Explain c={c} />
          </td>
        </tr>
      )}
    </>
  );
}

function Explain({ c }: { c: Conversion }) {
  const { client } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [ex, setEx] = useState<ExplainConversionResponse | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    client.attribution.explainConversion({ conversionId: c.id }).then(setEx, (e) => setError(errText(e)));
  }, [c.id]);
  return (
    <div class="explain">
      <h3>{t("explanation")}</h3>
      <ErrorBox text={error} />
      <p class="summary">{ex ? ex.summary : c.attributionSummary || t("loading")}</p>
      {ex && ex.commissionRule && <p>{ex.commissionRule}</p>}
      {ex && ex.candidates.length > 0 && (
        <>
          <h4>{t("candidates")}</h4>
          <ul>
            {ex.candidates.map((k) => (
              <li key={k.clickId}>
                <code>{k.clickId}</code> · {k.publisherId} · <Time ts={k.clickTime} /> · {enumName(AttributionPath, k.path)} ·{" "}
                {k.winner ? <strong>{t("winner")}</strong> : k.eligible ? t("eligible") : t("notEligible")} — {k.reason}
              </li>
            ))}
          </ul>
        </>
      )}
      {c.history.length > 0 && (
        <>
          <h4>{t("history")}</h4>
          <ul>
            {c.history.map((h, i) => (
              <li key={i}>
                <Time ts={h.time} /> · {h.from ? `${t(enumName(ConversionStatus, h.from).toLowerCase())} → ` : ""}
                {t(enumName(ConversionStatus, h.to).toLowerCase())}
                {h.reason ? ` · ${t(`reason_STATUS_REASON_${enumName(StatusReason, h.reason)}`)}` : ""}
                {h.note ? ` · “${h.note}”` : ""} · {h.actor}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

export function Refusals() {
  const { client } = useSession();
  const t = useT();
  const list = usePaged(async (token) => {
    const res = await client.conversions.listRefusals({ pageSize: PAGE, pageToken: token });
    return [res.refusals, res.nextPageToken];
  }, []);
  return (
    <Section title={t("refusals")} id="refusals-title">
      <ErrorBox text={list.error} />
      {list.items && list.items.length === 0 && <p>{t("noData")}</p>}
      {list.items && list.items.length > 0 && (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("time")}</th>
                <th scope="col">{t("source")}</th>
                <th scope="col">{t("code")}</th>
                <th scope="col">{t("refusedCount")}</th>
                <th scope="col">{t("message")}</th>
                <th scope="col">{t("orderId")}</th>
                <th scope="col">{t("params")}</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((r) => (
                <tr key={r.id}>
                  <td><Time ts={r.createTime} /></td>
                  <td>{enumName(ConversionSource, r.source)}</td>
                  <td><code>{r.code}</code></td>
                  <td>{String(r.count)}</td>
                  <td>{r.message}</td>
                  <td>{r.orderId}</td>
                  <td class="wrap"><code>{Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join("&")}</code></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager {...list} />
    </Section>
  );
}

export function Tags() {
  const { client, who } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [advertiserId, setAdvertiserId] = useState(who.role === "ADVERTISER" ? who.partnerId : "");
  const [format, setFormat] = useState<number>(Fc2TagFormat.IMAGE);
  const [uniqueId, setUniqueId] = useState("ORDER-1");
  const [amount, setAmount] = useState("1980");
  const [uname, setUname] = useState("");
  const [test, setTest] = useState(true);
  const [out, setOut] = useState<{ url: string; html: string; body: string; ts: string } | null>(null);
  const [error, setError] = useState("");
  const build = async (e: Event) => {
    e.preventDefault();
    setError("");
    const now = new Date();
    try {
      const res = await client.conversions.buildFc2Tag({
        advertiserId, format, uniqueId, amountY: /^\d+$/.test(amount) ? BigInt(amount) : undefined,
        amountD: /^\d+$/.test(amount) ? undefined : amount, uname, test, ts: timestampFromDate(now),
      });
      setOut({ url: res.url, html: res.html, body: res.body, ts: fc2Ts(now) });
    } catch (err) {
      setError(errText(err));
    }
  };
  const origin = location.origin;
  const [shopId, setShopId] = useState("SHOP_ID");
  useEffect(() => {
    if (!advertiserId) return;
    client.config.getAdvertiser({ id: advertiserId }).then((a) => a.advertiser && setShopId(String(a.advertiser.shopId)), () => undefined);
  }, [advertiserId]);
  // The tag the thank-you page carries, served from Baton's own host (first
  // party for the shop when Baton runs on its domain); the shop's server
  // fills in the order and computes sh with its password.
  const snippet = `<img src="${origin}/tracking/tracking_img.php?shopid=${shopId}&unique_id=ORDER_ID&uname=USER&amount_y=AMOUNT&ts=YYYYMMDDhhmmss&sh=SH" width="1" height="1" alt="">`;
  return (
    <>
      <Section title={t("fc2Builder")} id="fc2-title">
        <form class="filters" onSubmit={build}>
          {who.role === "ADMIN" && (
            <Field label={t("advertiser")}>
              <input name="advertiser" value={advertiserId} required onInput={(e) => setAdvertiserId((e.target as HTMLInputElement).value)} />
            </Field>
          )}
          <Field label={t("format")}>
            <select value={format} onChange={(e) => setFormat(Number((e.target as HTMLSelectElement).value))}>
              <option value={Fc2TagFormat.IMAGE}>{t("image")}</option>
              <option value={Fc2TagFormat.POST}>{t("post")}</option>
            </select>
          </Field>
          <Field label="unique_id">
            <input value={uniqueId} required onInput={(e) => setUniqueId((e.target as HTMLInputElement).value)} />
          </Field>
          <Field label="amount_y / amount_d">
            <input value={amount} inputMode="decimal" required onInput={(e) => setAmount((e.target as HTMLInputElement).value)} />
          </Field>
          <Field label="uname">
            <input value={uname} onInput={(e) => setUname((e.target as HTMLInputElement).value)} />
          </Field>
          <label class="check">
            <input type="checkbox" checked={test} onChange={(e) => setTest((e.target as HTMLInputElement).checked)} /> test=on
          </label>
          <div class="actions">
            <button class="primary" type="submit">{t("build")}</button>
          </div>
        </form>
        <ErrorBox text={error} />
        {out && (
          <div class="out">
            <p>{t("tsJst", { ts: out.ts })}</p>
            {out.html && (<><pre class="code">{out.html}</pre><CopyButton text={out.html} /></>)}
            {out.url && (<><pre class="code">{out.url}</pre><CopyButton text={out.url} /></>)}
            {out.body && (<><pre class="code">{out.body}</pre><CopyButton text={out.body} /></>)}
          </div>
        )}
      </Section>
      <Section title={t("firstParty")} id="fp-title">
        <pre class="code" data-testid="first-party">{snippet}</pre>
        <CopyButton text={snippet} />
        <p class="muted">{t("firstPartyHelp")}</p>
      </Section>
    </>
  );
}
