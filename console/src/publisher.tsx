// Publisher screens: tracking links and the link builder, clicks with the
// chain of IDs around each, postback endpoints with a template editor that
// Baton renders as you type (RenderPostback), and the delivery log with
// every attempt and redeliver.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { AttemptOutcome, ClickFlag, DeliveryState, EndpointState, PostbackEvent, PostbackMethod, trackingLink } from "@batonhq/client/web";
import type { CheckIntegrationResponse, Click, Delivery, PartnerSystem, PostbackEndpoint, RenderPostbackResponse, TrackingLink } from "@batonhq/client/web";
import { PartnerRole } from "@batonhq/client/web";
import { previewScheduler, unknownReferences } from "./template.js";
import { CopyButton, ErrorBox, Field, Notice, Pager, Section, Time, enumName, useErrorText, usePaged, useSession, useT } from "./ui";

const PAGE = 50;

export function Links() {
  const { client, who } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [offerId, setOfferId] = useState("");
  const [publisherId, setPublisherId] = useState("");
  const [error, setError] = useState("");
  const [chosen, setChosen] = useState<TrackingLink | null>(null);
  const [subs, setSubs] = useState(["", "", "", "", ""]);
  const [deep, setDeep] = useState("");
  const list = usePaged(async (token) => {
    const res = await client.clicks.listTrackingLinks({ pageSize: PAGE, pageToken: token });
    return [res.links, res.nextPageToken];
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    setError("");
    try {
      const res = await client.clicks.createTrackingLink({ offerId: offerId.trim(), publisherId: publisherId.trim() });
      setChosen(res.link ?? null);
      list.reload();
    } catch (err) {
      setError(errText(err));
    }
  };
  const [systems, setSystems] = useState<PartnerSystem[]>([]);
  const [system, setSystem] = useState("");
  const [media, setMedia] = useState<{ url: string; note: string } | null>(null);
  useEffect(() => {
    client.partners.listPartnerSystems({}).then(
      (r) => setSystems(r.systems.filter((s) => s.roles.includes(PartnerRole.UPSTREAM))),
      () => setSystems([]),
    );
  }, [client]);
  const built = chosen
    ? trackingLink(chosen.url.replace(/\/c\/[^/]*$/, ""), chosen.id, {
        sub1: subs[0] || undefined, sub2: subs[1] || undefined, sub3: subs[2] || undefined, sub4: subs[3] || undefined,
        sub5: subs[4] || undefined, deepLink: deep || undefined,
      })
    : "";
  return (
    <>
      <Section title={t("links")} id="links-title">
        <form class="filters" onSubmit={create}>
          <Field label={t("offer")}>
            <input name="offer" value={offerId} required onInput={(e) => setOfferId((e.target as HTMLInputElement).value)} />
          </Field>
          {who.role === "ADMIN" && (
            <Field label={t("publisher")}>
              <input name="publisher" value={publisherId} required onInput={(e) => setPublisherId((e.target as HTMLInputElement).value)} />
            </Field>
          )}
          <div class="actions">
            <button class="primary" type="submit">{t("createLink")}</button>
          </div>
        </form>
        <ErrorBox text={error || list.error} />
        {list.items && list.items.length === 0 && <p>{t("noData")}</p>}
        {list.items && list.items.length > 0 && (
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">ID</th>
                  <th scope="col">{t("offer")}</th>
                  <th scope="col">{t("publisher")}</th>
                  <th scope="col">{t("site")}</th>
                  <th scope="col">{t("url")}</th>
                  <th scope="col">{t("created")}</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((l) => (
                  <tr key={l.id}>
                    <td>
                      <button type="button" class="link" onClick={() => setChosen(l)}>{l.id}</button>
                    </td>
                    <td>{l.offerId}</td>
                    <td>{l.publisherId}</td>
                    <td>{l.siteId || "—"}</td>
                    <td class="wrap"><code>{l.url}</code></td>
                    <td><Time ts={l.createTime} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager {...list} />
      </Section>
      {chosen && (
        <Section title={`${t("linkBuilder")}: ${chosen.id}`} id="builder-title">
          <div class="filters">
            {subs.map((v, i) => (
              <Field label={`param${i + 1} (sub${i + 1})`} key={i}>
                <input value={v} onInput={(e) => { const s = [...subs]; s[i] = (e.target as HTMLInputElement).value; setSubs(s); }} />
              </Field>
            ))}
            <Field label={t("deepLink")} wide>
              <input value={deep} placeholder="/sale/spring.html" onInput={(e) => setDeep((e.target as HTMLInputElement).value)} />
            </Field>
          </div>
          <pre class="code" data-testid="built-link">{built}</pre>
          <CopyButton text={built} />
          {systems.length > 0 && <MediaUrl built={built} systems={systems} system={system} setSystem={setSystem} media={media} setMedia={setMedia} />}
        </Section>
      )}
    </>
  );
}

// MediaUrl is the link builder's half for a partner system: Baton's
// BuildMediaUrl appends the system's click-ID parameter and macro (? or &,
// as the CATS document says), so the media gets a URL its system fills in.
function MediaUrl(props: {
  built: string; systems: PartnerSystem[]; system: string; setSystem: (s: string) => void;
  media: { url: string; note: string } | null; setMedia: (m: { url: string; note: string } | null) => void;
}) {
  const { client } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [error, setError] = useState("");
  const { built, system, setMedia } = props;
  useEffect(() => {
    setError("");
    if (!system || !built) {
      setMedia(null);
      return;
    }
    let live = true;
    client.partners.buildMediaUrl({ clickUrl: built, systemId: system }).then(
      (r) => live && setMedia({ url: r.url, note: r.note }),
      (err) => live && (setMedia(null), setError(errText(err))),
    );
    return () => { live = false; };
  }, [client, built, system]);
  return (
    <div>
      <Field label={t("partnerSystem")}>
        <select name="system" value={system} onChange={(e) => props.setSystem((e.target as HTMLSelectElement).value)}>
          <option value="">{t("none")}</option>
          {props.systems.map((s) => <option value={s.id} key={s.id}>{s.name}</option>)}
        </select>
      </Field>
      <ErrorBox text={error} />
      {props.media && (
        <>
          <p class="muted">{t("mediaUrl")}: {props.media.note}</p>
          <pre class="code" data-testid="media-url">{props.media.url}</pre>
          <CopyButton text={props.media.url} />
        </>
      )}
    </div>
  );
}

// CheckReport shows an integration check hop by hop, with the fix under
// each failed one.
function CheckReport({ r }: { r: CheckIntegrationResponse }) {
  const t = useT();
  return (
    <div data-testid="check-report">
      <p class={r.ok ? "" : "warn"}><strong>{r.ok ? t("checkOk") : t("checkFailed")}</strong></p>
      <ol class="rows">
        {r.hops.map((h, i) => (
          <li key={i} data-hop={h.name}>
            <span class={`badge ${h.ok ? "ok" : "warn"}`}>{h.ok ? "OK" : "FAIL"}</span> <strong>{h.name}</strong>: {h.detail}
            {h.fix && <div>{t("fix")}: {h.fix}</div>}
          </li>
        ))}
      </ol>
    </div>
  );
}

function Hop({ label, hop }: { label: string; hop?: { id: string; param: string; issuer: string } }) {
  if (!hop || !hop.id) return <span class="hop empty">{label}: —</span>;
  return (
    <span class="hop">
      {label}: <code>{hop.id}</code>
      {hop.param ? ` (${hop.param})` : ""}
      {hop.issuer ? ` · ${hop.issuer}` : ""}
    </span>
  );
}

export function ChainIds({ c }: { c: Click }) {
  const t = useT();
  return (
    <div class="chain-ids" aria-label="chain">
      <Hop label={t("upstream")} hop={c.upstream} />
      <span aria-hidden="true">→</span>
      <span class="hop self">Baton: <code>{c.id}</code></span>
      <span aria-hidden="true">→</span>
      <Hop label={t("downstream")} hop={c.downstream} />
    </div>
  );
}

export function Clicks() {
  const { client } = useSession();
  const t = useT();
  const [upstream, setUpstream] = useState("");
  const [applied, setApplied] = useState("");
  const list = usePaged(async (token) => {
    const res = await client.clicks.listClicks({ pageSize: PAGE, pageToken: token, upstreamId: applied });
    return [res.clicks, res.nextPageToken];
  }, [applied]);
  return (
    <Section title={t("nav_clicks")} id="clicks-title">
      <form class="filters" onSubmit={(e) => { e.preventDefault(); setApplied(upstream.trim()); }}>
        <Field label={t("upstreamId")}>
          <input name="upstream" value={upstream} onInput={(e) => setUpstream((e.target as HTMLInputElement).value)} />
        </Field>
        <div class="actions">
          <button class="primary" type="submit">{t("apply")}</button>
          <button type="button" onClick={list.reload}>↻</button>
        </div>
      </form>
      <ErrorBox text={list.error} />
      {list.items && list.items.length === 0 && <p>{t("noData")}</p>}
      {list.items && list.items.length > 0 && (
        <ul class="rows">
          {list.items.map((c) => (
            <li key={c.id} data-click={c.id}>
              <div>
                <Time ts={c.createTime} /> · {c.offerId} · {c.publisherId} · {c.linkId}
                {c.unique && <span class="badge">{t("unique")}</span>}
                {c.flags.map((f) => <span class="badge warn" key={f}>{enumName(ClickFlag, f)}</span>)}
              </div>
              <ChainIds c={c} />
              {c.subIds.some((s) => s) && <div class="muted">sub: {c.subIds.map((s, i) => `sub${i + 1}=${s}`).join(" ")}</div>}
            </li>
          ))}
        </ul>
      )}
      <Pager {...list} />
    </Section>
  );
}

type Draft = { id: string; method: number; urlTemplate: string; bodyTemplate: string; events: number[]; test: boolean; offerId: string; publisherId: string };

const blank: Draft = {
  id: "", method: PostbackMethod.GET, urlTemplate: "https://media.example.com/cv?sid=##PARA1##&amount=##AMOUNT##&status={status}",
  bodyTemplate: "", events: [PostbackEvent.PENDING, PostbackEvent.APPROVED], test: false, offerId: "", publisherId: "",
};

const EVENTS = [PostbackEvent.PENDING, PostbackEvent.APPROVED, PostbackEvent.REJECTED, PostbackEvent.REVERSED];

export function Postbacks() {
  const { client, who } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [draft, setDraft] = useState<Draft | null>(null);
  const [notice, setNotice] = useState("");
  const [error, setError] = useState("");
  const list = usePaged(async (token) => {
    const res = await client.postbacks.listPostbackEndpoints({ pageSize: PAGE, pageToken: token });
    return [res.endpoints, res.nextPageToken];
  }, []);
  const edit = (e: PostbackEndpoint) =>
    setDraft({ id: e.id, method: e.method, urlTemplate: e.urlTemplate, bodyTemplate: e.bodyTemplate, events: [...e.events], test: e.test, offerId: e.offerId, publisherId: e.publisherId });
  const setState = async (e: PostbackEndpoint, state: EndpointState) => {
    setError("");
    try {
      await client.postbacks.updatePostbackEndpoint({ endpoint: { id: e.id, state }, updateMask: { paths: ["state"] } });
      list.reload();
    } catch (err) {
      setError(errText(err));
    }
  };
  const [check, setCheck] = useState<{ id: string; r: CheckIntegrationResponse } | null>(null);
  const [checking, setChecking] = useState("");
  const runCheck = async (e: PostbackEndpoint) => {
    setError("");
    setNotice("");
    setCheck(null);
    setChecking(e.id);
    try {
      const r = await client.partners.checkIntegration({ publisherId: e.publisherId, endpointId: e.id }, { timeoutMs: 60000 });
      setCheck({ id: e.id, r });
    } catch (err) {
      setError(errText(err));
    } finally {
      setChecking("");
    }
  };
  const sendTest = async (e: PostbackEndpoint) => {
    setError("");
    setNotice("");
    try {
      const res = await client.postbacks.sendTestPostback({ endpointId: e.id });
      setNotice(t("testSent", { id: res.delivery?.id ?? "" }));
    } catch (err) {
      setError(errText(err));
    }
  };
  return (
    <>
      <Section title={t("endpoints")} id="endpoints-title">
        <div class="actions">
          <button type="button" class="primary" onClick={() => setDraft({ ...blank, publisherId: who.role === "PUBLISHER" ? who.partnerId : "" })}>
            {t("newEndpoint")}
          </button>
        </div>
        <Notice text={notice} />
        <ErrorBox text={error || list.error} />
        {list.items && list.items.length === 0 && <p>{t("noData")}</p>}
        {list.items && list.items.length > 0 && (
          <ul class="rows">
            {list.items.map((e) => (
              <li key={e.id} data-endpoint={e.id}>
                <div>
                  <strong>{e.id}</strong> · {enumName(PostbackMethod, e.method)} · {e.events.map((x) => enumName(PostbackEvent, x)).join(", ")}
                  {e.offerId && ` · ${e.offerId}`}
                  {e.test && <span class="badge">{t("test")}</span>}
                  <span class={`badge ${e.state === EndpointState.ENABLED ? "ok" : "warn"}`}>{enumName(EndpointState, e.state)}</span>
                  {e.stateReason && <span class="muted"> {e.stateReason}</span>}
                </div>
                <code class="wrap">{e.urlTemplate}</code>
                <div class="actions">
                  <button type="button" class="small" onClick={() => edit(e)}>{t("edit")}</button>
                  <button type="button" class="small" onClick={() => sendTest(e)}>{t("sendTest")}</button>
                  {e.state === EndpointState.ENABLED && (
                    <button type="button" class="small" disabled={checking !== ""} onClick={() => runCheck(e)}>
                      {checking === e.id ? t("loading") : `${t("checkIntegration")}: ${t("runCheck")}`}
                    </button>
                  )}
                  {e.state === EndpointState.ENABLED ? (
                    <button type="button" class="small" onClick={() => setState(e, EndpointState.DISABLED)}>{t("disable")}</button>
                  ) : (
                    <button type="button" class="small" onClick={() => setState(e, EndpointState.ENABLED)}>{t("enable")}</button>
                  )}
                </div>
                {check && check.id === e.id && <CheckReport r={check.r} />}
              </li>
            ))}
          </ul>
        )}
        <Pager {...list} />
      </Section>
      {draft && (
        <Editor
          draft={draft}
          onClose={(msg) => {
            setDraft(null);
            if (msg) setNotice(msg);
            list.reload();
          }}
        />
      )}
      <Deliveries />
    </>
  );
}

function Editor({ draft: initial, onClose }: { draft: Draft; onClose: (msg?: string) => void }) {
  const { client, who } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [d, setD] = useState<Draft>(initial);
  const [preview, setPreview] = useState<RenderPostbackResponse | null>(null);
  const [previewError, setPreviewError] = useState("");
  const [error, setError] = useState("");
  const [secret, setSecret] = useState("");
  const scheduler = useRef<ReturnType<typeof previewScheduler> | null>(null);
  if (!scheduler.current) {
    scheduler.current = previewScheduler(
      (x: Draft) =>
        client.postbacks.renderPostback({
          urlTemplate: x.urlTemplate, bodyTemplate: x.bodyTemplate, method: x.method,
          event: x.events[0] ?? PostbackEvent.PENDING,
          sample: {
            clickId: "06H0SAMPLECLICKID00000000000", subIds: ["media-session-123", "", "", "", ""], orderId: "ORDER-1",
            amount: { currencyCode: "JPY", amountMinor: 1980n }, commission: { currencyCode: "JPY", amountMinor: 99n },
            offerId: x.offerId || "off_demo", publisherId: x.publisherId || who.partnerId || "pub_demo",
          },
        }),
      (res: { ok: boolean; value?: RenderPostbackResponse; error?: unknown }) => {
        if (res.ok) {
          setPreview(res.value ?? null);
          setPreviewError("");
        } else {
          setPreview(null);
          setPreviewError(errText(res.error));
        }
      },
      250,
    );
  }
  useEffect(() => {
    scheduler.current?.schedule(d);
  }, [d.urlTemplate, d.bodyTemplate, d.method, d.events.join(","), d.offerId]);
  useEffect(() => () => scheduler.current?.cancel(), []);
  const unknown = useMemo(() => [...unknownReferences(d.urlTemplate), ...unknownReferences(d.bodyTemplate)], [d.urlTemplate, d.bodyTemplate]);
  const save = async (e: Event) => {
    e.preventDefault();
    setError("");
    try {
      if (d.id) {
        await client.postbacks.updatePostbackEndpoint({
          endpoint: { id: d.id, method: d.method, urlTemplate: d.urlTemplate, bodyTemplate: d.bodyTemplate, events: d.events, test: d.test, offerId: d.offerId },
          updateMask: { paths: ["method", "url_template", "body_template", "events", "test", "offer_id"] },
        });
        onClose(t("saved"));
      } else {
        const res = await client.postbacks.createPostbackEndpoint({
          publisherId: d.publisherId, offerId: d.offerId, method: d.method, urlTemplate: d.urlTemplate, bodyTemplate: d.bodyTemplate, events: d.events, test: d.test,
        });
        setSecret(res.secret);
        setD({ ...d, id: res.endpoint?.id ?? "" });
      }
    } catch (err) {
      setError(errText(err));
    }
  };
  const toggle = (ev: number) => setD({ ...d, events: d.events.includes(ev) ? d.events.filter((x) => x !== ev) : [...d.events, ev].sort() });
  return (
    <Section title={d.id ? `${t("edit")}: ${d.id}` : t("newEndpoint")} id="editor-title">
      <form class="editor" onSubmit={save}>
        {who.role === "ADMIN" && !d.id && (
          <Field label={t("publisher")}>
            <input value={d.publisherId} required onInput={(e) => setD({ ...d, publisherId: (e.target as HTMLInputElement).value })} />
          </Field>
        )}
        <Field label={t("method")}>
          <select name="method" value={d.method} onChange={(e) => setD({ ...d, method: Number((e.target as HTMLSelectElement).value) })}>
            <option value={PostbackMethod.GET}>GET</option>
            <option value={PostbackMethod.POST_FORM}>POST form</option>
            <option value={PostbackMethod.POST_JSON}>POST JSON</option>
          </select>
        </Field>
        <Field label={t("offer")}>
          <input name="offer" value={d.offerId} onInput={(e) => setD({ ...d, offerId: (e.target as HTMLInputElement).value })} />
        </Field>
        <fieldset>
          <legend>{t("events")}</legend>
          {EVENTS.map((ev) => (
            <label class="check" key={ev}>
              <input type="checkbox" checked={d.events.includes(ev)} onChange={() => toggle(ev)} /> {enumName(PostbackEvent, ev)}
            </label>
          ))}
        </fieldset>
        <Field label={t("urlTemplate")} wide>
          <textarea name="url_template" rows={3} spellcheck={false} value={d.urlTemplate} onInput={(e) => setD({ ...d, urlTemplate: (e.target as HTMLTextAreaElement).value })} />
        </Field>
        {d.method !== PostbackMethod.GET && (
          <Field label={t("bodyTemplate")} wide>
            <textarea name="body_template" rows={4} spellcheck={false} value={d.bodyTemplate} onInput={(e) => setD({ ...d, bodyTemplate: (e.target as HTMLTextAreaElement).value })} />
          </Field>
        )}
        <label class="check">
          <input type="checkbox" checked={d.test} onChange={(e) => setD({ ...d, test: (e.target as HTMLInputElement).checked })} /> {t("testOnly")}
        </label>
        <div class="preview" aria-live="polite" data-testid="preview">
          <h3>{t("preview")}</h3>
          {unknown.length > 0 && <p class="error">{t("unknownVars", { list: unknown.join(", ") })}</p>}
          {previewError && <p class="error" data-testid="preview-error">{previewError}</p>}
          {preview && !previewError && (
            <>
              <pre class="code" data-testid="preview-url">{preview.method} {preview.url}</pre>
              {preview.body && <pre class="code" data-testid="preview-body">{preview.body}</pre>}
              <details>
                <summary>{t("variables")}</summary>
                <ul>
                  {Object.entries(preview.variables).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => (
                    <li key={k}><code>{k}</code> = <code>{v}</code></li>
                  ))}
                </ul>
              </details>
            </>
          )}
        </div>
        {secret && <p class="notice secret">{t("secretOnce", { secret })}</p>}
        <ErrorBox text={error} />
        <div class="actions">
          <button class="primary" type="submit">{t("save")}</button>
          <button type="button" onClick={() => onClose()}>{t("cancel")}</button>
        </div>
      </form>
    </Section>
  );
}

export function Deliveries() {
  const { client } = useSession();
  const t = useT();
  const errText = useErrorText();
  const [state, setState] = useState(0);
  const [open, setOpen] = useState("");
  const [detail, setDetail] = useState<Delivery | null>(null);
  const [notice, setNotice] = useState("");
  const [error, setError] = useState("");
  const list = usePaged(async (token) => {
    const res = await client.postbacks.listDeliveries({ pageSize: PAGE, pageToken: token, state });
    return [res.deliveries, res.nextPageToken];
  }, [state]);
  useEffect(() => {
    const timer = setInterval(list.reload, 5000);
    return () => clearInterval(timer);
  }, []);
  const show = async (id: string) => {
    if (open === id) {
      setOpen("");
      return;
    }
    setOpen(id);
    setDetail(null);
    try {
      setDetail((await client.postbacks.getDelivery({ id })).delivery ?? null);
    } catch (err) {
      setError(errText(err));
    }
  };
  const redeliver = async (id: string) => {
    setNotice("");
    setError("");
    try {
      const res = await client.postbacks.redeliver({ deliveryIds: [id] });
      setNotice(t("redelivered", { n: res.queuedCount }));
      list.reload();
    } catch (err) {
      setError(errText(err));
    }
  };
  return (
    <Section title={t("deliveries")} id="deliveries-title">
      <div class="filters">
        <Field label={t("state")}>
          <select value={state} onChange={(e) => setState(Number((e.target as HTMLSelectElement).value))}>
            <option value={0}>{t("any")}</option>
            {[DeliveryState.PENDING, DeliveryState.SUCCEEDED, DeliveryState.FAILED, DeliveryState.CANCELLED].map((s) => (
              <option value={s} key={s}>{enumName(DeliveryState, s)}</option>
            ))}
          </select>
        </Field>
      </div>
      <Notice text={notice} />
      <ErrorBox text={error || list.error} />
      {list.items && list.items.length === 0 && <p>{t("noData")}</p>}
      {list.items && list.items.length > 0 && (
        <ul class="rows">
          {list.items.map((d) => (
            <li key={d.id} data-delivery={d.id} data-state={enumName(DeliveryState, d.state)}>
              <div>
                <Time ts={d.createTime} /> · <code>{d.id}</code> · {enumName(PostbackEvent, d.event)} · {d.endpointId} · {d.conversionId}
                {d.test && <span class="badge">{t("test")}</span>}
                <span class={`badge ${d.state === DeliveryState.SUCCEEDED ? "ok" : d.state === DeliveryState.PENDING ? "" : "warn"}`}>{enumName(DeliveryState, d.state)}</span>
                <span class="muted"> {t("attempts")}: {d.attemptCount}</span>
                {d.lastAttempt && <span class="muted"> · HTTP {d.lastAttempt.statusCode || "—"}</span>}
              </div>
              <div class="actions">
                <button type="button" class="small" aria-expanded={open === d.id} onClick={() => show(d.id)}>{t("attempts")}</button>
                <button type="button" class="small" onClick={() => redeliver(d.id)}>{t("redeliver")}</button>
              </div>
              {open === d.id && detail && detail.id === d.id && <Attempts d={detail} />}
            </li>
          ))}
        </ul>
      )}
      <Pager {...list} />
    </Section>
  );
}

export function Attempts({ d }: { d: Delivery }) {
  const t = useT();
  if (d.attempts.length === 0) return <p class="muted">{t("noData")}</p>;
  return (
    <div class="scroll">
      <table class="attempts">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">{t("time")}</th>
            <th scope="col">{t("status")}</th>
            <th scope="col">{t("latency")}</th>
            <th scope="col">{t("url")}</th>
            <th scope="col">{t("excerpt")}</th>
          </tr>
        </thead>
        <tbody>
          {d.attempts.map((a) => (
            <tr key={a.number} data-attempt={a.number}>
              <td>{a.number}</td>
              <td><Time ts={a.time} /></td>
              <td>
                {a.statusCode || "—"} {enumName(AttemptOutcome, a.outcome)}
              </td>
              <td class="num">{a.latency ? `${(Number(a.latency.seconds) * 1000 + Math.round(a.latency.nanos / 1e6)).toLocaleString()} ms` : "—"}</td>
              <td class="wrap"><code>{a.url}</code></td>
              <td class="wrap"><code>{a.responseExcerpt || a.error}</code></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
