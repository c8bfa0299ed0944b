import assert from "node:assert/strict";
import { test } from "node:test";

import { dryRunLimit, prettyRules, ruleError } from "../../src/ruleset.js";

test("a rule set is pretty-printed; text that is not JSON is left alone", () => {
  assert.equal(prettyRules('{"rules":[{"name":"x"}]}'), '{\n  "rules": [\n    {\n      "name": "x"\n    }\n  ]\n}');
  assert.equal(prettyRules('{"rules": ['), null);
  assert.equal(prettyRules(""), null);
});

test("Baton's error is split into the field path (with indices) and the words", () => {
  const violations = [{ field: "rules.conditions.any.amount.min", message: "min 5 is above max 4: the range is empty", ruleId: "baton.invalid" }];
  assert.deepEqual(ruleError("rules[2].conditions.any[0].amount.min: min 5 is above max 4: the range is empty", violations), {
    path: "rules[2].conditions.any[0].amount.min",
    text: "min 5 is above max 4: the range is empty",
  });
  assert.deepEqual(ruleError('rules[0].action: unknown field "kind"', []), { path: "rules[0].action", text: 'unknown field "kind"' });
  assert.deepEqual(ruleError("rules: the rule set is not valid JSON: unexpected end of JSON input", []), {
    path: "rules",
    text: "the rule set is not valid JSON: unexpected end of JSON input",
  });
  // protovalidate's own violations (no path in the message): the detail's field.
  assert.deepEqual(ruleError("value length must be at least 2 characters", [{ field: "rules_json", message: "value length must be at least 2 characters" }]), {
    path: "rules_json",
    text: "value length must be at least 2 characters",
  });
  assert.deepEqual(ruleError("rejected: too big", []), { path: "", text: "rejected: too big" });
});

test("the dry-run limit stays within 1..1000", () => {
  assert.equal(dryRunLimit("25"), 25);
  assert.equal(dryRunLimit(" 5000 "), 1000);
  assert.equal(dryRunLimit("0"), 100);
  assert.equal(dryRunLimit("abc"), 100);
  assert.equal(dryRunLimit("2.5"), 100);
});
