// Baton's console: sign-in with an API key, role detection (WhoAmI), and the
// screens each role may use. What a user may see and do is decided by the
// server for every call; the navigation only hides what would be refused.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";

import { Role } from "@batonhq/client/web";
import { Chain, Keys, Networks, Offers, Partners, Queue } from "./admin";
import { asBatonError, connect, forgetKey, saveKey, savedKey } from "./api";
import type { BatonClient } from "./api";
import { Conversions, Refusals, Tags } from "./conversions";
import { userTimeZone } from "./format.js";
import { LANGS, initialLang, t as translate } from "./i18n.js";
import { Overview } from "./overview";
import { Rules } from "./rules";
import { Clicks, Deliveries, Links, Postbacks } from "./publisher";
import { SessionContext } from "./ui";
import type { Session, Who } from "./ui";

const SCREENS: Record<string, { roles: string[]; view: () => preact.JSX.Element }> = {
  overview: { roles: ["ADMIN", "ADVERTISER", "PUBLISHER"], view: Overview },
  conversions: { roles: ["ADMIN", "ADVERTISER", "PUBLISHER"], view: Conversions },
  refusals: { roles: ["ADMIN", "ADVERTISER"], view: Refusals },
  tags: { roles: ["ADMIN", "ADVERTISER"], view: Tags },
  links: { roles: ["ADMIN", "PUBLISHER"], view: Links },
  clicks: { roles: ["ADMIN", "PUBLISHER"], view: Clicks },
  postbacks: { roles: ["ADMIN", "PUBLISHER"], view: Postbacks },
  deliveries: { roles: ["ADMIN", "PUBLISHER"], view: Deliveries },
  partners: { roles: ["ADMIN"], view: Partners },
  offers: { roles: ["ADMIN", "ADVERTISER"], view: Offers },
  rules: { roles: ["ADMIN", "ADVERTISER"], view: Rules },
  keys: { roles: ["ADMIN"], view: Keys },
  networks: { roles: ["ADMIN"], view: Networks },
  queue: { roles: ["ADMIN"], view: Queue },
  chain: { roles: ["ADMIN", "PUBLISHER", "ADVERTISER"], view: Chain },
};

function route(): string {
  const r = location.hash.replace(/^#\/?/, "").split("?")[0];
  return r in SCREENS ? r : "overview";
}

async function whoAmI(client: BatonClient): Promise<Who> {
  const res = await client.config.whoAmI({});
  const k = res.key;
  return { role: Role[k?.role ?? 0] ?? "UNSPECIFIED", partnerId: k?.partnerId ?? "", name: k?.name ?? "", keyId: k?.id ?? "" };
}

function App() {
  const [lang, setLang] = useState(() => initialLang(localStorage.getItem("baton.lang") ?? "", navigator.languages));
  const [tz, setTz] = useState(() => localStorage.getItem("baton.tz") || userTimeZone());
  const [session, setSession] = useState<{ client: BatonClient; who: Who } | null>(null);
  const [checking, setChecking] = useState(() => savedKey() !== "");
  const [message, setMessage] = useState("");
  const [screen, setScreen] = useState(route);
  const t = (k: string, v?: Record<string, unknown>) => translate(lang, k, v);

  useEffect(() => {
    const on = () => setScreen(route());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = t("title");
    localStorage.setItem("baton.lang", lang);
  }, [lang]);
  useEffect(() => {
    localStorage.setItem("baton.tz", tz);
  }, [tz]);

  const signIn = async (key: string, quiet = false) => {
    setMessage("");
    const client = connect(key);
    try {
      const who = await whoAmI(client);
      saveKey(key);
      setSession({ client, who });
    } catch (e) {
      const be = asBatonError(e);
      forgetKey();
      if (!quiet || be.code !== "unauthenticated") {
        setMessage(be.code === "unauthenticated" ? t(quiet ? "keyRevoked" : "wrongKey") : t("unreachable", { msg: be.rawMessage || be.message }));
      } else {
        setMessage(t("keyRevoked"));
      }
    } finally {
      setChecking(false);
    }
  };
  useEffect(() => {
    const k = savedKey();
    if (k) signIn(k, true);
  }, []);

  const signOut = (msg?: string) => {
    forgetKey();
    setSession(null);
    setMessage(msg ?? "");
  };

  const settings = (
    <div class="settings">
      <label>
        <span>{t("language")}</span>
        <select value={lang} onChange={(e) => setLang((e.target as HTMLSelectElement).value)} name="lang">
          {LANGS.map((l) => (
            <option value={l} key={l}>{l === "ja" ? "日本語" : "English"}</option>
          ))}
        </select>
      </label>
      <label>
        <span>{t("timeZone")}</span>
        <select value={tz} onChange={(e) => setTz((e.target as HTMLSelectElement).value)} name="tz">
          {[...new Set([userTimeZone(), "Asia/Tokyo", "UTC", tz])].map((z) => (
            <option value={z} key={z}>{z}</option>
          ))}
        </select>
      </label>
    </div>
  );

  if (!session) {
    return (
      <main class="signin" id="main">
        <h1>{t("title")}</h1>
        {checking ? <p>{t("loading")}</p> : <SignIn t={t} onSubmit={(k) => signIn(k)} message={message} />}
        {settings}
      </main>
    );
  }
  const s: Session = { ...session, lang, tz, signOut };
  const allowed = Object.keys(SCREENS).filter((k) => SCREENS[k].roles.includes(session.who.role));
  const current = allowed.includes(screen) ? screen : "overview";
  const View = SCREENS[current].view;
  return (
    <SessionContext.Provider value={s}>
      <a class="skip" href="#main">{t("skip")}</a>
      <header class="top">
        <div class="brand">
          <strong>Baton</strong>
          <span data-testid="whoami" class="who">
            {t("signedInAs", { role: t(`role_ROLE_${session.who.role}`), partner: session.who.partnerId })}
          </span>
        </div>
        {settings}
        <button type="button" onClick={() => signOut()}>{t("signout")}</button>
      </header>
      <nav class="tabs" aria-label={t("menu")}>
        <ul>
          {allowed.map((k) => (
            <li key={k}>
              <a href={`#/${k}`} aria-current={k === current ? "page" : undefined}>{t(`nav_${k}`)}</a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1} data-screen={current}>
        <h1 class="sr">{t(`nav_${current}`)}</h1>
        <View key={current} />
      </main>
    </SessionContext.Provider>
  );
}

function SignIn({ t, onSubmit, message }: { t: (k: string) => string; onSubmit: (key: string) => void; message: string }) {
  const [key, setKey] = useState("");
  const [local, setLocal] = useState("");
  return (
    <form
      class="card"
      autoComplete="off"
      onSubmit={(e) => {
        e.preventDefault();
        const k = key.trim();
        if (!k) {
          setLocal(t("emptyKey"));
          return;
        }
        setLocal("");
        onSubmit(k);
      }}
    >
      <label class="field wide">
        <span>{t("apiKey")}</span>
        <input type="password" name="apiKey" autoComplete="off" spellcheck={false} value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} aria-describedby="signin-help" />
      </label>
      <p id="signin-help" class="muted">{t("signinHelp")}</p>
      {(local || message) && (
        <p class="error" role="alert" data-testid="signin-error">
          {local || message}
        </p>
      )}
      <button type="submit" class="primary">{t("signin")}</button>
      <p class="muted small">{t("demoKeys")}</p>
    </form>
  );
}

render(<App />, document.getElementById("app")!);
