// Shared pieces of the console: the session context, calls that turn a
// revoked key into a sign-out, paging by the server's page tokens, and the
// small components every screen uses.
import { createContext } from "preact";
import type { ComponentChildren } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";

import { asBatonError } from "./api";
import type { BatonClient } from "./api";
import { formatMoney, formatTime } from "./format.js";
import { t as translate } from "./i18n.js";

export type Who = { role: string; partnerId: string; name: string; keyId: string };

export type Session = {
  client: BatonClient;
  who: Who;
  lang: string;
  tz: string;
  signOut: (message?: string) => void;
};

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("no session");
  return s;
}

export function useT(): (key: string, vars?: Record<string, unknown>) => string {
  const { lang } = useSession();
  return (key, vars) => translate(lang, key, vars);
}

/** An error as words for the user; a revoked key signs the user out. */
export function useErrorText(): (e: unknown) => string {
  const s = useSession();
  const t = useT();
  return (e) => {
    const be = asBatonError(e);
    if (be.code === "unauthenticated") {
      s.signOut(t("keyRevoked"));
      return t("keyRevoked");
    }
    const msg = be.rawMessage || be.message;
    const fields = be.violations.map((v) => `${v.field}: ${v.message}`).join("; ");
    if (be.code === "permission_denied") return t("denied", { msg });
    return t("error", { msg: fields ? `${msg} (${fields})` : msg });
  };
}

/**
 * A list read page by page with the server's tokens: only one page is ever
 * in the browser. load(token) returns [items, nextToken].
 */
export function usePaged<T>(load: (token: string) => Promise<[T[], string]>, deps: unknown[]) {
  const errText = useErrorText();
  // The page tokens belong to one set of filters: new filters start again
  // at page 1, with one request.
  const key = JSON.stringify(deps);
  const [paging, setPaging] = useState<{ key: string; tokens: string[] }>({ key, tokens: [""] });
  const tokens = paging.key === key ? paging.tokens : [""];
  const [items, setItems] = useState<T[] | null>(null);
  const [next, setNext] = useState("");
  const [error, setError] = useState("");
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  const token = tokens[tokens.length - 1];
  useEffect(() => {
    const mine = ++seq.current;
    setError("");
    load(token).then(
      ([list, nt]) => {
        if (mine !== seq.current) return;
        setItems(list);
        setNext(nt);
      },
      (e) => {
        if (mine !== seq.current) return;
        setItems([]);
        setError(errText(e));
      },
    );
  }, [key, token, tick]);
  return {
    items,
    error,
    page: tokens.length,
    hasNext: next !== "",
    hasPrev: tokens.length > 1,
    nextPage: () => next && setPaging({ key, tokens: [...tokens, next] }),
    prevPage: () => tokens.length > 1 && setPaging({ key, tokens: tokens.slice(0, -1) }),
    reload: () => setTick((x) => x + 1),
  };
}

export function Pager(p: { page: number; hasPrev: boolean; hasNext: boolean; prevPage: () => void; nextPage: () => void }) {
  const t = useT();
  return (
    <nav class="pager" aria-label="pages">
      <button type="button" onClick={p.prevPage} disabled={!p.hasPrev}>
        ← {t("prev")}
      </button>
      <span aria-live="polite">{t("page", { n: p.page })}</span>
      <button type="button" onClick={p.nextPage} disabled={!p.hasNext}>
        {t("next")} →
      </button>
    </nav>
  );
}

export function Money({ m }: { m?: { currencyCode: string; amountMinor: bigint } }) {
  const { lang } = useSession();
  return <span class="num">{formatMoney(m, lang === "ja" ? "ja-JP" : "en-US")}</span>;
}

export function MoneyList({ list }: { list?: { currencyCode: string; amountMinor: bigint }[] }) {
  if (!list || list.length === 0) return <span class="num">—</span>;
  return (
    <>
      {list.map((m, i) => (
        <span key={m.currencyCode}>
          {i > 0 ? " + " : ""}
          <Money m={m} />
        </span>
      ))}
    </>
  );
}

export function Time({ ts, zone }: { ts?: unknown; zone?: string }) {
  const { tz, lang } = useSession();
  const z = zone ?? tz;
  const text = formatTime(ts as never, z, lang);
  return <time>{text}</time>;
}

export function ErrorBox({ text }: { text: string }) {
  if (!text) return null;
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

export function Notice({ text }: { text: string }) {
  if (!text) return null;
  return (
    <p class="notice" role="status">
      {text}
    </p>
  );
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

export function Field({ label, children, wide }: { label: string; children: ComponentChildren; wide?: boolean }) {
  return (
    <label class={wide ? "field wide" : "field"}>
      <span>{label}</span>
      {children}
    </label>
  );
}

export function CopyButton({ text }: { text: string }) {
  const t = useT();
  const [done, setDone] = useState(false);
  const copy = useCallback(() => {
    navigator.clipboard?.writeText(text).then(() => setDone(true), () => setDone(false));
  }, [text]);
  return (
    <button type="button" class="small" onClick={copy}>
      {done ? t("copied") : t("copy")}
    </button>
  );
}

/** The enum value's name without its prefix: ConversionStatus 2 -> "APPROVED". */
export function enumName(e: Record<number, string>, v: number): string {
  return e[v] ?? String(v);
}

export function download(name: string, text: string, type = "text/csv;charset=utf-8") {
  const blob = new Blob(["\ufeff" + text], { type });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
