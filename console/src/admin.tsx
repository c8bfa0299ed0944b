// Operator screens: partners, offers, API keys (create, revoke), networks,
// the delivery queue, and the chain view for any click or conversion.
import { useEffect, useState } from "preact/hooks";

import { ConversionStatus, DeliveryState, EndpointState, OfferStatus, PublisherKind, Role } from "@batonhq/client/web";
import type { Click, Conversion, Delivery, GetDeliveryQueueResponse, GetTraceResponse } from "@batonhq/client/web";
import { Attempts, ChainIds } from "./publisher";
import { ErrorBox, Field, Money, Notice, Pager, Section, Time, enumName, useErrorText, usePaged, useSession, useT } from "./ui";

const PAGE = 50;

export function Partners() {
  const { client } = useSession();
  const t = useT();
  const advertisers = usePaged(async (token) => {
    const res = await client.config.listAdvertisers({ pageSize: PAGE, pageToken: token });
    return [res.advertisers, res.nextPageToken];
  }, []);
  const publishers = usePaged(async (token) => {
    const res = await client.config.listPublishers({ pageSize: PAGE, pageToken: token });
    return [res.publishers, res.nextPageToken];
  }, []);
  return (
    <>
      <Section title={t("advertisers")} id="adv-title">
        <ErrorBox text={advertisers.error} />
        <div class="scroll">
          <table>
            <thead>
              <tr><th scope="col">ID</th><th scope="col">{t("name")}</th><th scope="col">{t("shopId")}</th><th scope="col">{t("created")}</th></tr>
            </thead>
            <tbody>
              {(advertisers.items ?? []).map((a) => (
                <tr key={a.id}><td>{a.id}</td><td>{a.name}</td><td class="num">{String(a.shopId)}</td><td><Time ts={a.createTime} /></td></tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pager {...advertisers} />
      </Section>
      <Section title={t("publishers")} id="pub-title">
        <ErrorBox text={publishers.error} />
        <div class="scroll">
          <table>
            <thead>
              <tr><th scope="col">ID</th><th scope="col">{t("name")}</th><th scope="col">{t("kind")}</th><th scope="col">{t("userId")}</th><th scope="col">{t("created")}</th></tr>
            </thead>
            <tbody>
              {(publishers.items ?? []).map((p) => (
                <tr key={p.id}><td>{p.id}</td><td>{p.name}</td><td>{enumName(PublisherKind, p.kind)}</td><td class="num">{String(p.userId)}</td><td><Time ts={p.createTime} /></td></tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pager {...publishers} />
      </Section>
    </>
  );
}

export function Offers() {
  const { client } = useSession();
  const t = useT();
  const list = usePaged(async (token) => {
    const res = await client.config.listOffers({ pageSize: PAGE, pageToken: token });
    return [res.offers, res.nextPageToken];
  }, []);
  return (
    <Section title={t("offers")} id="offers-title">
      <ErrorBox text={list.error} />
      <div class="scroll">
        <table>
          <thead>
            <tr><th scope="col">ID</th><th scope="col">{t("name")}</th><th scope="col">{t("advertiser")}</th><th scope="col">{t("status")}</th><th scope="col">{t("payout")}</th><th scope="col">{t("landing")}</th></tr>
          </thead>
          <tbody>
            {(list.items ?? []).map((o) => (
              <tr key={o.id}>
                <td>{o.id}</td><td>{o.name}</td><td>{o.advertiserId}</td><td>{enumName(OfferStatus, o.status)}</td>
                <td>{o.payout?.kind.case === "percentBps" ? `${(o.payout.kind.value / 100).toFixed(2)}%` : o.payout?.kind.case === "fixed" ? <Money m={o.payout.kind.value} /> : "—"}</td>
                <td class="wrap"><code>{o.landingUrl}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pager {...list} />
    </Section>
  );
}

export function Keys() {
  const { client } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [name, setName] = useState("");
  const [role, setRole] = useState<number>(Role.PUBLISHER);
  const [partner, setPartner] = useState("");
  const [created, setCreated] = useState("");
  const [notice, setNotice] = useState("");
  const [error, setError] = useState("");
  const list = usePaged(async (token) => {
    const res = await client.config.listApiKeys({ pageSize: PAGE, pageToken: token, includeRevoked: true });
    return [res.apiKeys, res.nextPageToken];
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    setError("");
    setCreated("");
    try {
      const res = await client.config.createApiKey({ name, role, partnerId: role === Role.ADMIN ? "" : partner.trim() });
      setCreated(res.key);
      list.reload();
    } catch (err) {
      setError(errText(err));
    }
  };
  const revoke = async (id: string, keyName: string) => {
    if (!confirm(t("confirmRevoke", { name: keyName }))) return;
    setError("");
    try {
      await client.config.revokeApiKey({ id });
      setNotice(`${keyName}: ${t("revoked")}`);
      list.reload();
    } catch (err) {
      setError(errText(err));
    }
  };
  return (
    <Section title={t("keys")} id="keys-title">
      <form class="filters" onSubmit={create}>
        <Field label={t("name")}>
          <input name="name" value={name} required maxLength={200} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label={t("role")}>
          <select name="role" value={role} onChange={(e) => setRole(Number((e.target as HTMLSelectElement).value))}>
            {[Role.ADMIN, Role.ADVERTISER, Role.PUBLISHER, Role.NETWORK].map((r) => (
              <option value={r} key={r}>{t(`role_ROLE_${enumName(Role, r)}`)}</option>
            ))}
          </select>
        </Field>
        {role !== Role.ADMIN && (
          <Field label={t("partner")}>
            <input name="partner" value={partner} required onInput={(e) => setPartner((e.target as HTMLInputElement).value)} />
          </Field>
        )}
        <div class="actions">
          <button class="primary" type="submit">{t("createKey")}</button>
        </div>
      </form>
      {created && (
        <p class="notice secret" role="status" data-testid="new-key">
          {t("keyCreated", { key: created })}
        </p>
      )}
      <Notice text={notice} />
      <ErrorBox text={error || list.error} />
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("name")}</th><th scope="col">{t("role")}</th><th scope="col">{t("partner")}</th><th scope="col">{t("prefix")}</th>
              <th scope="col">{t("lastUsed")}</th><th scope="col">{t("created")}</th><th scope="col"><span class="sr">{t("revoke")}</span></th>
            </tr>
          </thead>
          <tbody>
            {(list.items ?? []).map((k) => (
              <tr key={k.id} data-key={k.name}>
                <td>{k.name}</td>
                <td>{t(`role_ROLE_${enumName(Role, k.role)}`)}</td>
                <td>{k.partnerId || "—"}</td>
                <td><code>{k.prefix}</code></td>
                <td><Time ts={k.lastUsedTime} /></td>
                <td><Time ts={k.createTime} /></td>
                <td>
                  {k.revokeTime ? (
                    <span class="badge warn">{t("revoked")}</span>
                  ) : (
                    <button type="button" class="small bad" onClick={() => revoke(k.id, k.name)}>{t("revoke")}</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pager {...list} />
    </Section>
  );
}

export function Networks() {
  const { client } = useSession();
  const t = useT();
  const list = usePaged(async (token) => {
    const res = await client.config.listNetworks({ pageSize: PAGE, pageToken: token });
    return [res.networks, res.nextPageToken];
  }, []);
  const up = usePaged(async (token) => {
    const res = await client.config.listPublishers({ pageSize: PAGE, pageToken: token, kind: PublisherKind.NETWORK });
    return [res.publishers, res.nextPageToken];
  }, []);
  return (
    <>
      <Section title={`${t("networks")} — ${t("downstream")}`} id="net-down">
        <ErrorBox text={list.error} />
        {list.items && list.items.length === 0 && <p>{t("noData")}</p>}
        <ul class="rows">
          {(list.items ?? []).map((n) => (
            <li key={n.id}>
              <strong>{n.id}</strong> · {n.name} · {n.trustTraceContext ? "trust traceparent" : "new trace, linked"}
              {n.allowedIps.length > 0 && <span class="muted"> · {n.allowedIps.join(", ")}</span>}
            </li>
          ))}
        </ul>
        <Pager {...list} />
      </Section>
      <Section title={`${t("networks")} — ${t("upstream")}`} id="net-up">
        <ErrorBox text={up.error} />
        {up.items && up.items.length === 0 && <p>{t("noData")}</p>}
        <ul class="rows">
          {(up.items ?? []).map((p) => (
            <li key={p.id}><strong>{p.id}</strong> · {p.name}</li>
          ))}
        </ul>
        <Pager {...up} />
      </Section>
    </>
  );
}

export function Queue() {
  const { client } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [error, setError] = useState("");
  const pending = usePaged(async (token) => {
    const res = await client.postbacks.listDeliveries({ pageSize: PAGE, pageToken: token, state: DeliveryState.PENDING });
    return [res.deliveries, res.nextPageToken];
  }, []);
  const failed = usePaged(async (token) => {
    const res = await client.postbacks.listDeliveries({ pageSize: PAGE, pageToken: token, state: DeliveryState.FAILED });
    return [res.deliveries, res.nextPageToken];
  }, []);
  const disabled = usePaged(async (token) => {
    const res = await client.postbacks.listPostbackEndpoints({ pageSize: PAGE, pageToken: token, state: EndpointState.DISABLED_FAILING });
    return [res.endpoints, res.nextPageToken];
  }, []);
  const enable = async (id: string) => {
    setError("");
    try {
      await client.postbacks.updatePostbackEndpoint({ endpoint: { id, state: EndpointState.ENABLED }, updateMask: { paths: ["state"] } });
      disabled.reload();
    } catch (err) {
      setError(errText(err));
    }
  };
  const [stats, setStats] = useState<GetDeliveryQueueResponse | null>(null);
  useEffect(() => {
    let stopped = false;
    const load = () =>
      client.postbacks.getDeliveryQueue({}).then(
        (q) => !stopped && setStats(q),
        (e) => !stopped && setError(errText(e)),
      );
    load();
    const timer = setInterval(load, 5000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [client]);
  return (
    <>
      <Section title={t("queue")} id="queue-title">
        <dl class="stats" data-testid="queue-stats">
          <div><dt>{t("depth")}</dt><dd class="num" data-stat="pending">{stats ? String(stats.pendingCount) : "…"}</dd></div>
          <div><dt>{t("oldest")}</dt><dd>{stats?.oldestPendingTime ? <Time ts={stats.oldestPendingTime} /> : "—"}</dd></div>
          <div><dt>{t("failingEndpoints")}</dt><dd class="num">{stats ? String(stats.failingEndpointCount) : "…"}</dd></div>
          <div><dt>{t("disabledEndpoints")}</dt><dd class="num">{stats ? String(stats.disabledFailingEndpointCount) : "…"}</dd></div>
        </dl>
      </Section>
      <Section title={t("pending")} id="pending-title">
        <ErrorBox text={pending.error} />
        {pending.items && pending.items.length === 0 && <p>{t("noData")}</p>}
        <ul class="rows">
          {(pending.items ?? []).map((d) => (
            <li key={d.id}>
              <Time ts={d.createTime} /> · <code>{d.id}</code> · {d.endpointId} · {d.publisherId} · {t("attempts")}: {d.attemptCount} · {t("nextAttempt")}: <Time ts={d.nextAttemptTime} />
            </li>
          ))}
        </ul>
        <Pager {...pending} />
      </Section>
      <Section title={t("disabledEndpoints")} id="disabled-title">
        <ErrorBox text={error || disabled.error} />
        {disabled.items && disabled.items.length === 0 && <p>{t("noData")}</p>}
        <ul class="rows">
          {(disabled.items ?? []).map((e) => (
            <li key={e.id}>
              <strong>{e.id}</strong> · {e.publisherId} · {e.stateReason}
              <button type="button" class="small" onClick={() => enable(e.id)}>{t("enable")}</button>
            </li>
          ))}
        </ul>
      </Section>
      <Section title={t("failing")} id="failed-title">
        <ErrorBox text={failed.error} />
        {failed.items && failed.items.length === 0 && <p>{t("noData")}</p>}
        <ul class="rows">
          {(failed.items ?? []).map((d) => (
            <li key={d.id}>
              <Time ts={d.createTime} /> · <code>{d.id}</code> · {d.endpointId} · {d.publisherId} · HTTP {d.lastAttempt?.statusCode || "—"} {d.lastAttempt?.error}
            </li>
          ))}
        </ul>
        <Pager {...failed} />
      </Section>
    </>
  );
}

type ChainData = { clicks: Click[]; conversions: Conversion[]; deliveries: Delivery[] };

export function Chain() {
  const { client } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [id, setId] = useState(() => new URLSearchParams(location.hash.split("?")[1] ?? "").get("id") ?? "");
  const [data, setData] = useState<ChainData | null>(null);
  const [error, setError] = useState("");
  const show = async (e?: Event) => {
    e?.preventDefault();
    setError("");
    setData(null);
    const q = id.trim();
    if (!q) return;
    try {
      let conversions: Conversion[] = [];
      let clicks: Click[] = [];
      try {
        const c = (await client.conversions.getConversion({ id: q })).conversion;
        if (c) conversions = [c];
      } catch {
        // not a conversion ID
      }
      const clickId = conversions[0]?.clickId || (conversions.length ? "" : q);
      if (clickId && /^[A-Za-z0-9_-]+$/.test(clickId)) {
        try {
          const c = (await client.clicks.getClick({ id: clickId })).click;
          if (c) clicks = [c];
        } catch {
          // not a click ID
        }
        if (!conversions.length && clicks.length) {
          conversions = (await client.conversions.listConversions({ clickId, includeTest: true, pageSize: 50 })).conversions;
        }
      }
      if (!conversions.length && !clicks.length) {
        setError(t("notFound", { id: q }));
        return;
      }
      const deliveries: Delivery[] = [];
      for (const c of conversions) {
        const list = (await client.postbacks.listDeliveries({ conversionId: c.id, pageSize: 100 })).deliveries;
        for (const d of list) {
          const full = (await client.postbacks.getDelivery({ id: d.id })).delivery;
          deliveries.push(full ?? d);
        }
      }
      setData({ clicks, conversions, deliveries });
    } catch (err) {
      setError(errText(err));
    }
  };
  type Ev = { at: number; ts: unknown; text: string; key: string };
  const events: Ev[] = [];
  const sec = (ts?: { seconds: bigint; nanos: number }) => (ts ? Number(ts.seconds) * 1000 + ts.nanos / 1e6 : 0);
  for (const c of data?.clicks ?? []) events.push({ at: sec(c.createTime), ts: c.createTime, text: `click ${c.id} (${c.publisherId}, ${c.offerId})`, key: `k${c.id}` });
  for (const c of data?.conversions ?? []) {
    events.push({ at: sec(c.createTime), ts: c.createTime, text: `conversion ${c.id} order ${c.orderId}`, key: `c${c.id}` });
    for (const h of c.history) events.push({ at: sec(h.time), ts: h.time, text: `${t(enumName(ConversionStatus, h.to).toLowerCase())} (${h.actor})`, key: `h${c.id}${sec(h.time)}` });
  }
  for (const d of data?.deliveries ?? []) for (const a of d.attempts) events.push({ at: sec(a.time), ts: a.time, text: `delivery ${d.id} attempt ${a.number}: HTTP ${a.statusCode || "—"} ${a.error}`, key: `a${d.id}${a.number}` });
  events.sort((a, b) => a.at - b.at);
  return (
    <>
      <Section title={t("chain")} id="chain-title">
        <p class="muted">{t("chainHelp")}</p>
        <form class="filters" onSubmit={show}>
          <Field label={`${t("clickId")} / ID`} wide>
            <input name="id" value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} />
          </Field>
          <div class="actions">
            <button class="primary" type="submit">{t("show")}</button>
          </div>
        </form>
        <ErrorBox text={error} />
      </Section>
      {data && (
        <>
          {data.clicks.map((c) => (
            <Section title={`${t("clicks")}: ${c.id}`} key={c.id}>
              <ChainIds c={c} />
              <p class="muted wrap">{c.redirectUrl}</p>
            </Section>
          ))}
          {data.conversions.map((c) => (
            <Section title={`${t("conversions")}: ${c.orderId}`} key={c.id}>
              <p>{c.attributionSummary}</p>
              <p><Money m={c.amount} /> → <Money m={c.commission} /> · upstream <code>{c.upstreamId || "—"}</code> · downstream <code>{c.downstreamId || "—"}</code></p>
            </Section>
          ))}
          {data.deliveries.map((d) => (
            <Section title={`${t("deliveries")}: ${d.id}`} key={d.id}>
              <Attempts d={d} />
            </Section>
          ))}
          {[...new Set([...data.clicks.map((c) => c.traceId), ...data.deliveries.map((d) => d.traceId)].filter((x) => x))].map((id) => (
            <TraceView id={id} key={id} />
          ))}
          <Section title={t("timeline")}>
            <ol class="timeline">
              {events.map((e) => (
                <li key={e.key}><Time ts={e.ts} /> — {e.text}</li>
              ))}
            </ol>
          </Section>
        </>
      )}
      <Notice text="" />
    </>
  );
}

/** A trace's spans from Jaeger (GetTrace) as a waterfall; admin keys only. */
function TraceView({ id }: { id: string }) {
  const { client, who } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [trace, setTrace] = useState<GetTraceResponse | null>(null);
  const [error, setError] = useState("");
  const load = async () => {
    setError("");
    try {
      setTrace(await client.attribution.getTrace({ traceId: id }));
    } catch (e) {
      setError(errText(e));
    }
  };
  const us = (ts?: { seconds: bigint; nanos: number }) => (ts ? Number(ts.seconds) * 1e6 + ts.nanos / 1e3 : 0);
  const dur = (d?: { seconds: bigint; nanos: number }) => (d ? Number(d.seconds) * 1e6 + d.nanos / 1e3 : 0);
  const [all, setAll] = useState(false);
  const every = trace?.spans ?? [];
  // Baton's own spans (and HTTP ones); database spans on demand.
  const spans = all ? every : every.filter((s) => s.name.startsWith("baton.") || s.name.startsWith("HTTP") || s.name.includes("/"));
  const t0 = spans.length ? Math.min(...spans.map((s) => us(s.startTime))) : 0;
  const t1 = spans.length ? Math.max(...spans.map((s) => us(s.startTime) + dur(s.duration))) : 1;
  const total = Math.max(t1 - t0, 1);
  return (
    <Section title={`${t("trace")}: ${id}`}>
      {who.role === "ADMIN" ? (
        <button type="button" class="small" onClick={load}>{t("showSpans")}</button>
      ) : (
        <p class="muted">{t("traceAdminOnly")}</p>
      )}
      {every.length > 0 && (
        <label class="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll((e.target as HTMLInputElement).checked)} /> {t("allSpans", { n: every.length })}
        </label>
      )}
      <ErrorBox text={error} />
      {spans.length > 0 && (
        <ol class="spans" data-testid="spans">
          {spans.map((s) => {
            const left = ((us(s.startTime) - t0) / total) * 100;
            const width = Math.max((dur(s.duration) / total) * 100, 0.5);
            const ids = Object.entries(s.attributes).filter(([k]) => k.startsWith("baton.")).sort(([a], [b]) => (a < b ? -1 : 1));
            return (
              <li key={s.spanId} class={s.error ? "span error-span" : "span"} data-span={s.name}>
                <div class="span-head">
                  <strong>{s.name}</strong> <span class="muted">{s.service} · {(dur(s.duration) / 1000).toFixed(1)} ms</span>
                </div>
                <div class="span-track" aria-hidden="true">
                  <span class="span-bar" style={{ marginLeft: `${left}%`, width: `${width}%` }} />
                </div>
                {ids.length > 0 && <div class="muted small wrap">{ids.map(([k, v]) => `${k}=${v}`).join(" · ")}</div>}
              </li>
            );
          })}
        </ol>
      )}
    </Section>
  );
}
