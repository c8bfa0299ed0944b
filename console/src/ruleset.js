// Pure helpers of the rules editor: pretty-printing a rule set, and
// splitting Baton's validation error into the field path and the words, so
// the editor can show "rules[2].conditions.any[0].amount.min" next to the
// text. No DOM here: console/test/unit tests these.

/**
 * The rule set as indented JSON, or null when text is not JSON (the editor
 * then leaves the text as typed and lets Baton name the problem).
 */
export function prettyRules(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return null;
  }
}

// Baton's message for an invalid rule set is "<path>: <what is wrong>",
// the path with indices (the violation detail's field path keeps only the
// names, so the message is the better source for it).
const PATH = /^((?:rules|rules_json)(?:\[\d+\])?(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?)*): ([\s\S]+)$/;

/**
 * The field path and the words of a rule-set error: { path, text }. path
 * is "" when the message names no path. violations are BatonError's
 * ({field, message}); the first one is used when the message has no path.
 */
export function ruleError(rawMessage, violations) {
  const msg = String(rawMessage ?? "").trim();
  const m = PATH.exec(msg);
  if (m) return { path: m[1], text: m[2] };
  const v = (violations ?? []).find((x) => x && x.field);
  if (v) return { path: v.field, text: v.message || msg };
  return { path: "", text: msg };
}

/** The dry-run limit from a form field: 1..1000, 100 for anything else. */
export function dryRunLimit(value) {
  const n = Number(String(value ?? "").trim());
  if (!Number.isInteger(n) || n < 1) return 100;
  return Math.min(n, 1000);
}
