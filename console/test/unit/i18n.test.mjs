import assert from "node:assert/strict";
import { test } from "node:test";

import { _dicts, initialLang, t } from "../../src/i18n.js";

test("every English string has a Japanese one", () => {
  const missing = Object.keys(_dicts.en).filter((k) => !(k in _dicts.ja));
  assert.deepEqual(missing, []);
});

test("placeholders are filled", () => {
  assert.equal(t("ja", "selected", { n: 3 }), "3件選択中");
  assert.equal(t("en", "changed", { n: 2 }), "2 changed.");
});

test("the language follows the saved choice, then the browser", () => {
  assert.equal(initialLang("", ["ja-JP", "en"]), "ja");
  assert.equal(initialLang("en", ["ja-JP"]), "en");
  assert.equal(initialLang("", ["fr-FR"]), "en");
});
