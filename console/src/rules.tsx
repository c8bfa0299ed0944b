// The rules screen (admins: the network's set or any advertiser's; an
// advertiser: its own): the rule set in force with its version and each
// rule's scope, a JSON editor, a dry run over the latest conversions, a save
// with the version edited (so a save in between is refused, not
// overwritten), Baton's validation error with its field path next to the
// editor, and each rule's versions (read-only).
import { createClient } from "@connectrpc/connect";
import { useEffect, useState } from "preact/hooks";

import { toBatonError } from "@batonhq/client/web";
// RuleService is not on BatonClient (clients/ts) yet: its generated code,
// straight from gen/ts, on the session's transport.
import { RuleAction, RuleService } from "../../gen/ts/baton/v1/rules_pb.js";
import type { DryRunRulesResponse, GetRuleResponse, RuleOutcome, RuleSet } from "../../gen/ts/baton/v1/rules_pb.js";
import { asBatonError } from "./api";
import { dryRunLimit, prettyRules, ruleError } from "./ruleset.js";
import { ErrorBox, Field, Money, Notice, Section, Time, enumName, useErrorText, useSession, useT } from "./ui";

/** RuleService on the session's transport; errors as BatonError like the other clients. */
function useRules() {
  const { client } = useSession();
  const c = createClient(RuleService, client.transport);
  const wrap = <A, R>(f: (a: A) => Promise<R>) => async (a: A): Promise<R> => {
    try {
      return await f(a);
    } catch (e) {
      throw toBatonError(e);
    }
  };
  return {
    list: wrap((advertiserId: string) => c.listRules({ advertiserId })),
    put: wrap((r: { advertiserId: string; rulesJson: string; expectVersion: number }) => c.putRuleSet(r)),
    dryRun: wrap((r: { advertiserId: string; rulesJson: string; limit: number }) => c.dryRunRules(r)),
    versions: wrap((ruleId: string) => c.getRule({ ruleId })),
  };
}

function Outcome({ o }: { o?: RuleOutcome }) {
  const t = useT();
  if (!o) return <span class="muted">{t("noRule")}</span>;
  return (
    <span>
      <strong>{t(`ruleAction_${enumName(RuleAction, o.action)}`)}</strong>
      {o.name ? ` · ${o.name}` : ""}
      {o.version ? ` v${o.version}` : ""}
      {o.condition ? <> · <code>{o.condition}</code></> : null}
    </span>
  );
}

export function Rules() {
  const { who } = useSession();
  const t = useT();
  const errText = useErrorText();
  const api = useRules();
  const own = who.role === "ADVERTISER" ? who.partnerId : "";
  const [owner, setOwner] = useState(own);
  const [ownerInput, setOwnerInput] = useState(own);
  const [set, setSet] = useState<RuleSet | null>(null);
  const [text, setText] = useState("");
  const [loadError, setLoadError] = useState("");
  const [fieldError, setFieldError] = useState<{ path: string; text: string } | null>(null);
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const [limit, setLimit] = useState("100");
  const [dry, setDry] = useState<DryRunRulesResponse | null>(null);
  const [busy, setBusy] = useState(false);
  const [versions, setVersions] = useState<GetRuleResponse | null>(null);

  const load = async (adv: string) => {
    setLoadError("");
    try {
      const res = await api.list(adv);
      const s = res.ruleSet ?? null;
      setSet(s);
      setText(prettyRules(s?.rulesJson ?? "") ?? s?.rulesJson ?? '{"rules": []}');
    } catch (e) {
      setSet(null);
      setLoadError(errText(e));
    }
  };
  useEffect(() => {
    setDry(null);
    setVersions(null);
    setFieldError(null);
    setError("");
    load(owner);
  }, [owner]);

  // A rule-set error goes next to the editor with its field path; any
  // other error (a save in between, a refused key) above it.
  const fail = (e: unknown) => {
    const be = asBatonError(e);
    if (be.code === "invalid_argument") {
      setFieldError(ruleError(be.rawMessage, be.violations));
      return;
    }
    setError(errText(e));
  };
  const clear = () => {
    setFieldError(null);
    setError("");
    setNotice("");
  };
  const dryRun = async () => {
    clear();
    setDry(null);
    setBusy(true);
    try {
      setDry(await api.dryRun({ advertiserId: owner, rulesJson: text, limit: dryRunLimit(limit) }));
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  };
  const save = async () => {
    clear();
    setBusy(true);
    try {
      const res = await api.put({ advertiserId: owner, rulesJson: text, expectVersion: set?.version ?? 0 });
      const s = res.ruleSet ?? null;
      setSet(s);
      setText(prettyRules(s?.rulesJson ?? "") ?? text);
      setNotice(t("rulesSaved", { v: s?.version ?? 0 }));
      setVersions(null);
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  };
  const showVersions = async (id: string) => {
    setError("");
    try {
      setVersions(await api.versions(id));
    } catch (e) {
      setError(errText(e));
    }
  };

  return (
    <>
      <Section title={t("rules")} id="rules-title">
        <p class="muted">{t("rulesHelp")}</p>
        {who.role === "ADMIN" && (
          <form
            class="filters"
            onSubmit={(e) => {
              e.preventDefault();
              setOwner(ownerInput.trim());
            }}
          >
            <Field label={t("ruleSetOf")}>
              <input name="advertiser" value={ownerInput} placeholder={t("networkSet")} onInput={(e) => setOwnerInput((e.target as HTMLInputElement).value)} />
            </Field>
            <div class="actions">
              <button type="submit">{t("show")}</button>
            </div>
          </form>
        )}
        <ErrorBox text={loadError} />
        {set && (
          <p data-testid="rule-set-version">
            {owner ? `${t("advertiser")} ${owner}` : t("networkSetName")} · {t("ruleSetVersion", { v: set.version })}
            {set.version > 0 && (
              <span class="muted"> · <Time ts={set.createTime} /> · {set.createdBy}</span>
            )}
          </p>
        )}
        {set && set.rules.length === 0 && <p>{t("noRules")}</p>}
        {set && set.rules.length > 0 && (
          <div class="scroll">
            <table data-testid="rules-in-force">
              <thead>
                <tr><th scope="col">#</th><th scope="col">{t("name")}</th><th scope="col">{t("ruleScope")}</th><th scope="col">{t("ruleActionCol")}</th><th scope="col">{t("version")}</th><th scope="col"><span class="sr">{t("versions")}</span></th></tr>
              </thead>
              <tbody>
                {set.rules.map((r, i) => (
                  <tr key={r.id} data-rule={r.name}>
                    <td class="num">{i + 1}</td>
                    <td>{r.name}</td>
                    <td>
                      {[r.scope?.advertiserId && `${t("advertiser")} ${r.scope.advertiserId}`, r.scope?.offerId && `${t("offer")} ${r.scope.offerId}`, r.scope?.publisherId && `${t("publisher")} ${r.scope.publisherId}`]
                        .filter((x) => x)
                        .join(" · ") || t("networkWide")}
                    </td>
                    <td>{t(`ruleAction_${enumName(RuleAction, r.action)}`)}</td>
                    <td class="num">v{r.version}</td>
                    <td><button type="button" class="small" onClick={() => showVersions(r.id)}>{t("versions")}</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {versions && (
          <div class="card" data-testid="rule-versions">
            <h3>{t("versions")}: {versions.versions[0]?.rule?.name}</h3>
            <ol class="rows">
              {versions.versions.map((v) => (
                <li key={v.rule?.version}>
                  <strong>v{v.rule?.version}</strong> · <Time ts={v.createTime} /> · {v.createdBy}
                  <pre class="code">{prettyRules(v.rule?.definitionJson ?? "") ?? v.rule?.definitionJson}</pre>
                </li>
              ))}
            </ol>
            <button type="button" class="small" onClick={() => setVersions(null)}>{t("hide")}</button>
          </div>
        )}
      </Section>
      {set && (
        <Section title={t("ruleEditor")} id="rule-editor-title">
          <Field label={t("rulesJson")} wide>
            <textarea
              name="rules_json"
              rows={18}
              spellcheck={false}
              value={text}
              aria-invalid={fieldError ? "true" : undefined}
              aria-describedby={fieldError ? "rules-error" : undefined}
              onInput={(e) => {
                setText((e.target as HTMLTextAreaElement).value);
                setFieldError(null);
              }}
            />
          </Field>
          {fieldError && (
            <p class="error" role="alert" id="rules-error" data-testid="rules-error">
              {fieldError.path && <code data-testid="rules-error-path">{fieldError.path}</code>}
              {fieldError.path ? ": " : ""}
              {fieldError.text}
            </p>
          )}
          <ErrorBox text={error} />
          <Notice text={notice} />
          <div class="filters">
            <Field label={t("dryRunLimit")}>
              <input name="limit" type="number" min={1} max={1000} value={limit} onInput={(e) => setLimit((e.target as HTMLInputElement).value)} />
            </Field>
            <div class="actions">
              <button type="button" onClick={() => setText(prettyRules(text) ?? text)}>{t("prettyPrint")}</button>
              <button type="button" onClick={dryRun} disabled={busy}>{t("dryRun")}</button>
              <button type="button" class="primary" onClick={save} disabled={busy}>{t("save")}</button>
            </div>
          </div>
        </Section>
      )}
      {dry && <DryRun res={dry} />}
    </>
  );
}

function DryRun({ res }: { res: DryRunRulesResponse }) {
  const t = useT();
  const c = res.counts;
  const changed = res.items.filter((i) => i.changed);
  return (
    <Section title={t("dryRunResult")} id="dry-run-title">
      <dl class="stats" data-testid="dry-run-counts">
        {(
          [
            ["total", c?.total],
            ["accept", c?.accept],
            ["hold", c?.hold],
            ["reject", c?.reject],
            ["change_payout", c?.changePayout],
            ["no_rule", c?.noRule],
            ["changed", c?.changed],
          ] as [string, number | undefined][]
        ).map(([k, v]) => (
          <div key={k}><dt>{t(`dry_${k}`)}</dt><dd class="num" data-count={k}>{String(v ?? 0)}</dd></div>
        ))}
      </dl>
      {changed.length === 0 ? (
        <p>{t("dryRunNoChange")}</p>
      ) : (
        <div class="scroll">
          <table data-testid="dry-run-changes">
            <thead>
              <tr>
                <th scope="col">{t("conversions")}</th><th scope="col">{t("amount")}</th><th scope="col">{t("dryHappened")}</th>
                <th scope="col">{t("dryWould")}</th><th scope="col">{t("commission")}</th>
              </tr>
            </thead>
            <tbody>
              {changed.map((i) => (
                <tr key={i.conversionId} data-order={i.orderId}>
                  <td><code>{i.conversionId}</code><div class="muted small">{i.orderId} · {i.offerId}{i.publisherId ? ` · ${i.publisherId}` : ""}</div></td>
                  <td><Money m={i.amount} /></td>
                  <td><Outcome o={i.happened} /></td>
                  <td><Outcome o={i.would} />{i.would?.internalText && <div class="muted small">{i.would.internalText}</div>}</td>
                  <td><Money m={i.commission} /> → {i.would?.action === RuleAction.REJECT ? <span class="muted">{t("notStored")}</span> : <Money m={i.wouldCommission} />}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}
