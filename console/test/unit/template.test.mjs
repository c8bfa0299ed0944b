// The template editor's local half: references in both dialects, unknown
// ones named, and a preview that asks Baton once the typing stops and never
// shows an older answer over a newer one.
import assert from "node:assert/strict";
import { test } from "node:test";

import { readFileSync } from "node:fs";

import { CAKE, CATS, KNOWN, previewScheduler, references, unknownReferences } from "../../src/template.js";

test("references in both dialects, with canonical names", () => {
  const refs = references("https://m.example/cv?sid=##PARA1##&a=##AMOUNT##&c={click_id}&s={status}");
  assert.deepEqual(refs.map((r) => [r.text, r.name, r.dialect, r.known]), [
    ["##PARA1##", "sub1", "cats", true],
    ["##AMOUNT##", "amount", "cats", true],
    ["{click_id}", "click_id", "brace", true],
    ["{status}", "status", "brace", true],
  ]);
  assert.equal(refs[0].offset, "https://m.example/cv?sid=".length);
});

test("literal braces and hashes are not references (as on the server)", () => {
  assert.deepEqual(references('{"id":"{click_id}","n":1} { } {Click_Id} ##para1## ## {click-id}').map((r) => r.text), ["{click_id}"]);
});

test("unknown variables are named, once each", () => {
  assert.deepEqual(unknownReferences("x={clickid}&y=##FOO##&z={clickid}&ok={sub1}"), ["{clickid}", "##FOO##"]);
  assert.deepEqual(unknownReferences("https://m.example/?a={amount}"), []);
});

test("the known lists match the server's (server/internal/postback)", () => {
  const go = readFileSync(new URL("../../../server/internal/postback/template.go", import.meta.url), "utf8");
  const known = /var Known = \[\]string\{([^}]*)\}/.exec(go)[1].match(/"([a-z0-9_]+)"/g).map((q) => q.slice(1, -1));
  assert.deepEqual(KNOWN, known);
  const cats = Object.fromEntries([.../"([A-Z0-9_]+)":\s+"([a-z0-9_]+)"/g[Symbol.matchAll](/var catsNames = map\[string\]string\{([^}]*)\}/.exec(go)[1])].map((m) => [m[1], m[2]]));
  assert.deepEqual(CATS, cats);
  const cakeGo = readFileSync(new URL("../../../server/internal/postback/cake.go", import.meta.url), "utf8");
  const cake = Object.fromEntries([.../"([a-z0-9_]+)":\s+"([a-z0-9_]+)"/g[Symbol.matchAll](/var cakeNames = map\[string\]string\{([^}]*)\}/.exec(cakeGo)[1])].map((m) => [m[1], m[2]]));
  assert.deepEqual(CAKE, cake);
});

// Fake timers: the preview runs only when the input has been still.
function fakeTimers() {
  let now = 0;
  let id = 0;
  const pending = new Map();
  return {
    setTimeout(fn, ms) {
      pending.set(++id, { fn, at: now + ms });
      return id;
    },
    clearTimeout(i) {
      pending.delete(i);
    },
    async advance(ms) {
      now += ms;
      for (const [i, t] of [...pending]) {
        if (t.at <= now) {
          pending.delete(i);
          await t.fn();
        }
      }
    },
  };
}

test("the preview asks once typing pauses", async () => {
  const timers = fakeTimers();
  const asked = [];
  const shown = [];
  const s = previewScheduler(async (x) => (asked.push(x), `rendered ${x}`), (res) => shown.push(res.value), 250, timers);
  s.schedule("h");
  await timers.advance(100);
  s.schedule("ht");
  await timers.advance(100);
  s.schedule("htt");
  await timers.advance(249);
  assert.deepEqual(asked, []);
  await timers.advance(1);
  assert.deepEqual(asked, ["htt"]);
  assert.deepEqual(shown, ["rendered htt"]);
});

test("an older answer arriving late is dropped", async () => {
  const timers = fakeTimers();
  const shown = [];
  let release;
  const slow = new Promise((r) => (release = r));
  const s = previewScheduler(async (x) => (x === "old" ? slow.then(() => "old answer") : "new answer"), (res) => shown.push(res.value), 10, timers);
  s.schedule("old");
  const first = timers.advance(10); // the old request is in flight
  s.schedule("new");
  await timers.advance(10);
  release();
  await first;
  assert.deepEqual(shown, ["new answer"]);
});

test("errors are results too (an unknown variable refused by Baton)", async () => {
  const timers = fakeTimers();
  const shown = [];
  const s = previewScheduler(async () => {
    throw new Error("unknown variable {clickid}");
  }, (res) => shown.push(res), 5, timers);
  s.schedule("x");
  await timers.advance(5);
  assert.equal(shown.length, 1);
  assert.equal(shown[0].ok, false);
  assert.match(shown[0].error.message, /clickid/);
});

test("CAKE #name# references, read as on the server", () => {
  const refs = references("https://c.example/p?r=#s1#&t=#leadid#&x=##s1##&y=#S1#&z=#s1##SID##&w=#foo#");
  assert.deepEqual(refs.map((r) => [r.text, r.name, r.dialect, r.known]), [
    ["#s1#", "sub1", "cake", true],
    ["#leadid#", "order_id", "cake", true],
    ["#s1#", "sub1", "cake", true],
    ["#foo#", "foo", "cake", false],
  ]);
  assert.deepEqual(unknownReferences("a=#tid#&b=#nope#"), ["#nope#"]);
});
