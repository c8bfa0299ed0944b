// The postback template editor's local half: which variables a template
// references, in any of the three dialects, and whether Baton knows them
// (the same rules as server/internal/postback: {name} with name
// [a-z][a-z0-9_]*, ##NAME## with NAME [A-Z][A-Z0-9_]*, #name# not right
// after a literal '#'). The rendering itself is always
// Baton's (RenderPostback); this only marks references while the user types
// and keeps the preview from asking for every keystroke.

/** Canonical variable names (server/internal/postback.Known). */
export const KNOWN = [
  "advertiser_id", "amount", "amount_minor", "buyer_user_name", "click_id", "commission", "commission_currency",
  "commission_minor", "conversion_id", "currency", "delivery_id", "downstream_id", "event", "event_time", "offer_id",
  "order_id", "order_id_2", "publisher_id", "sale_time", "site_id", "status", "sub1", "sub2", "sub3", "sub4", "sub5",
  "timestamp", "upstream_id",
];

/** CATS ##NAME## to canonical name. */
export const CATS = {
  AMOUNT: "amount", PARA1: "sub1", PARA2: "sub2", PARA3: "sub3", PARA4: "sub4", PARA5: "sub5",
  CID: "offer_id", SID: "click_id", TUID: "buyer_user_name", CONTENT_UID1: "order_id", CONTENT_UID2: "order_id_2",
};

/** CAKE #name# to canonical name (server/internal/postback/cake.go). */
export const CAKE = {
  tid: "click_id", s1: "sub1", s2: "sub2", s3: "sub3", s4: "sub4", s5: "sub5",
  oid: "offer_id", affid: "publisher_id", price: "commission", leadid: "order_id", amount: "amount",
};

const knownSet = new Set(KNOWN);

/**
 * The references in a template, in order: {text, name, dialect, known, offset}.
 * name is the canonical name for known CATS references.
 */
export function references(tpl) {
  const out = [];
  const s = String(tpl ?? "");
  let refEnd = -1; // where the last reference ended: a '#' before i there is not literal
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "{") {
      const m = /^\{([a-z][a-z0-9_]*)\}/.exec(s.slice(i));
      if (m) {
        out.push({ text: m[0], name: m[1], dialect: "brace", known: knownSet.has(m[1]), offset: i });
        i += m[0].length - 1;
      }
    } else if (s[i] === "#") {
      const m = /^##([A-Z][A-Z0-9_]*)##/.exec(s.slice(i));
      if (m) {
        const canon = CATS[m[1]];
        out.push({ text: m[0], name: canon ?? m[1], dialect: "cats", known: canon !== undefined, offset: i });
        i += m[0].length - 1;
        refEnd = i + 1;
        continue;
      }
      // CAKE #name#: never right after a literal '#'.
      const k = i > 0 && s[i - 1] === "#" && refEnd !== i ? null : /^#([a-z][a-z0-9_]*)#/.exec(s.slice(i));
      if (k) {
        const canon = CAKE[k[1]];
        out.push({ text: k[0], name: canon ?? k[1], dialect: "cake", known: canon !== undefined, offset: i });
        i += k[0].length - 1;
        refEnd = i + 1;
      }
    }
  }
  return out;
}

/** The unknown references' texts, deduplicated: ["{clickid}", "##FOO##"]. */
export function unknownReferences(tpl) {
  return [...new Set(references(tpl).filter((r) => !r.known).map((r) => r.text))];
}

/**
 * A preview scheduler: call schedule(input) on every keystroke; run(input)
 * is called once the input has been still for delayMs, and a result that
 * arrives for an older input than the newest is dropped (answers can come
 * back out of order). Returns {schedule, cancel}.
 */
export function previewScheduler(run, onResult, delayMs = 250, timers = globalThis) {
  let timer = null;
  let seq = 0;
  return {
    schedule(input) {
      const mine = ++seq;
      if (timer !== null) timers.clearTimeout(timer);
      timer = timers.setTimeout(async () => {
        timer = null;
        let res;
        try {
          res = { ok: true, value: await run(input) };
        } catch (error) {
          res = { ok: false, error };
        }
        if (mine === seq) onResult(res, input);
      }, delayMs);
    },
    cancel() {
      seq++;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
    },
  };
}
