// Keeping the click ID on the shop's own site (no Baton needed): the
// baton_cid cookie's format against fixed vectors shared with the Go and
// Python clients and t.js, and keepClickId / keptClickId in a real Node
// HTTP server over loopback.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";

import {
  CLICK_ID_COOKIE,
  clickIdSetCookie,
  isClickId,
  keepClickId,
  keptClickId,
  parseKeptClickId,
} from "@batonhq/client";
import * as web from "@batonhq/client/web";

const ID = "06h36q8hwjm6pyc767nvjxz170abc";
const NOW = 1700000000000; // 2023-11-14T22:13:20Z

// What Go's net/http writes for the Go client's cookie (KeepClickID) at NOW;
// clients/python/tests/test_offline.py checks the same strings.
const VECTORS = [
  {
    windowSeconds: 86400,
    secure: true,
    setCookie: `baton_cid=${ID}.1700086400000; Path=/; Expires=Wed, 15 Nov 2023 22:13:20 GMT; Max-Age=86400; Secure; SameSite=Lax`,
  },
  {
    windowSeconds: 86400,
    secure: false,
    setCookie: `baton_cid=${ID}.1700086400000; Path=/; Expires=Wed, 15 Nov 2023 22:13:20 GMT; Max-Age=86400; SameSite=Lax`,
  },
  {
    windowSeconds: undefined, // 30 days
    secure: false,
    setCookie: `baton_cid=${ID}.1702592000000; Path=/; Expires=Thu, 14 Dec 2023 22:13:20 GMT; Max-Age=2592000; SameSite=Lax`,
  },
];

describe("isClickId", () => {
  test("29 characters of lower-case Crockford base32", () => {
    assert.equal(isClickId(ID), true);
    assert.equal(web.isClickId(ID), true);
    for (const bad of ["", ID.slice(1), `${ID}0`, ID.toUpperCase(), `${ID.slice(0, 28)}i`, `${ID.slice(0, 28)}u`, `${ID}\n`, 42, null]) {
      assert.equal(isClickId(bad), false, JSON.stringify(bad));
    }
  });
});

describe("clickIdSetCookie", () => {
  test("byte for byte what the Go client sets", () => {
    for (const v of VECTORS) {
      assert.equal(clickIdSetCookie(ID, { windowSeconds: v.windowSeconds, secure: v.secure, now: NOW }), v.setCookie);
      assert.equal(web.clickIdSetCookie(ID, { windowSeconds: v.windowSeconds, secure: v.secure, now: new Date(NOW) }), v.setCookie);
    }
  });

  test("not HttpOnly: t.js reads the same cookie", () => {
    assert.doesNotMatch(clickIdSetCookie(ID, { secure: true }), /HttpOnly/i);
  });

  test("refuses what is not a click ID, and windows that are not 1 s to 400 days", () => {
    assert.throws(() => clickIdSetCookie("hello"), { name: "TypeError", message: /"hello" is not a Baton click ID/ });
    assert.throws(() => clickIdSetCookie(`${ID}; Domain=evil.example`), TypeError);
    for (const w of [0, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 400 * 86400 + 1]) {
      assert.throws(() => clickIdSetCookie(ID, { windowSeconds: w }), { name: "TypeError", message: /windowSeconds/ }, String(w));
    }
    assert.match(clickIdSetCookie(ID, { windowSeconds: 400 * 86400, now: NOW }), /; Max-Age=34560000;/);
  });
});

describe("parseKeptClickId", () => {
  test("reads the Go vectors, t.js's cookie and a bare ID, among other cookies", () => {
    for (const v of VECTORS) {
      const pair = v.setCookie.split(";")[0]!;
      assert.equal(parseKeptClickId(pair, { now: NOW }), ID);
      assert.equal(parseKeptClickId(`session=abc; ${pair}; theme=dark`, { now: NOW }), ID);
    }
    // t.js writes encodeURIComponent("<id>.<ms>"), which is the same bytes.
    assert.equal(parseKeptClickId(`baton_cid=${encodeURIComponent(`${ID}.1700086400000`)}`, { now: NOW }), ID);
    assert.equal(parseKeptClickId(`baton_cid=${ID}%2E1700086400000`, { now: NOW }), ID);
    assert.equal(parseKeptClickId(`baton_cid="${ID}.1700086400000"`, { now: NOW }), ID);
    assert.equal(parseKeptClickId(`baton_cid=${ID}`, { now: NOW }), ID);
    assert.equal(parseKeptClickId(["a=1", `baton_cid=${ID}`]), ID);
    assert.equal(web.parseKeptClickId(`baton_cid=${ID}`), ID);
  });

  test("the window ends at the expiry's millisecond", () => {
    const cookie = `baton_cid=${ID}.1700086400000`;
    assert.equal(parseKeptClickId(cookie, { now: 1700086399999 }), ID);
    assert.equal(parseKeptClickId(cookie, { now: 1700086400000 }), "");
    assert.equal(parseKeptClickId(cookie), ""); // 2023 is over
  });

  test("anything else is no click ID", () => {
    for (const header of [
      undefined,
      null,
      "",
      "session=abc",
      "baton_cid=",
      "baton_cid",
      "baton_cid=hello",
      `baton_cid=${ID}.`,
      `baton_cid=${ID}.soon`,
      `baton_cid=${ID}.+1800000000000`,
      `baton_cid=${ID}.-1`,
      `baton_cid=${ID}.12345678901234567`,
      `baton_cid=${ID.toUpperCase()}`,
      `baton_cid=${ID}0.1800000000000`,
      `baton_cid=${ID}.1800000000000.1`,
      "baton_cid=%E0%A4%A",
      `xbaton_cid=${ID}`,
      `baton_cid_old=${ID}`,
      // The first baton_cid counts, as in Go and t.js.
      `baton_cid=hello; baton_cid=${ID}`,
    ]) {
      assert.equal(parseKeptClickId(header, { now: NOW }), "", String(header));
    }
  });
});

describe("keepClickId and keptClickId in a Node HTTP server", () => {
  let server: Server;
  let base: string;
  const errors: unknown[] = [];

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      try {
        const url = new URL(req.url ?? "/", "http://shop.test");
        if (url.pathname === "/lp") {
          res.setHeader("Set-Cookie", ["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"]);
          const window = url.searchParams.get("window");
          const kept = keepClickId(req, res, {
            param: url.searchParams.get("param") ?? undefined,
            windowSeconds: window === null ? undefined : Number(window),
          });
          res.end(`kept ${JSON.stringify(kept)}`);
        } else if (url.pathname === "/late") {
          res.write("body first");
          const thrown = (() => {
            try {
              keepClickId(req, res);
              return "nothing";
            } catch (e) {
              return (e as Error).message;
            }
          })();
          res.end(` then ${thrown}`);
        } else {
          res.end(`checkout ${JSON.stringify(keptClickId(req))}`);
        }
      } catch (e) {
        errors.push(e);
        res.statusCode = 500;
        res.end(String(e));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("the landing URL's click ID is kept, next to the page's own cookies, and read back at checkout", async () => {
    const before = Date.now();
    const res = await fetch(`${base}/lp?aff_userid=1000&sid=${ID}&window=86400`);
    assert.equal(await res.text(), `kept "${ID}"`);
    const cookies = res.headers.getSetCookie();
    assert.equal(cookies.length, 3, cookies.join("\n"));
    assert.equal(cookies[0], "session=abc; Path=/; HttpOnly");
    assert.equal(cookies[1], "theme=dark; Path=/");
    const set = cookies[2]!;
    const m = new RegExp(`^baton_cid=${ID}\\.(\\d+); Path=/; Expires=([^;]+ GMT); Max-Age=86400; SameSite=Lax$`).exec(set);
    assert.ok(m, set); // over plain http: no Secure, and never HttpOnly
    const expires = Number(m[1]);
    assert.ok(expires >= before + 86400_000 && expires <= Date.now() + 86400_000, set);
    assert.equal(new Date(m[2]!).getTime(), Math.floor(expires / 1000) * 1000);

    const checkout = await fetch(`${base}/checkout`, { headers: { cookie: `session=abc; ${set.split(";")[0]}` } });
    assert.equal(await checkout.text(), `checkout "${ID}"`);
    assert.deepEqual(errors, []);
  });

  test("Secure behind a TLS-terminating proxy (X-Forwarded-Proto: https)", async () => {
    const res = await fetch(`${base}/lp?sid=${ID}`, { headers: { "x-forwarded-proto": "HTTPS" } });
    const set = res.headers.getSetCookie().find((c) => c.startsWith(`${CLICK_ID_COOKIE}=`));
    assert.match(set ?? "", /; Max-Age=2592000; Secure; SameSite=Lax$/);
  });

  test("the offer's own parameter name", async () => {
    const res = await fetch(`${base}/lp?param=cid&sid=nothing&cid=${ID}`);
    assert.equal(await res.text(), `kept "${ID}"`);
  });

  test("no click ID on the URL: nothing set, nothing kept", async () => {
    for (const query of ["", "?sid=", "?sid=hello", `?other=${ID}`, `?sid=${ID.toUpperCase()}`, `?sid=${ID}%3B%20Domain%3Devil.example`]) {
      const res = await fetch(`${base}/lp${query}`);
      assert.equal(await res.text(), 'kept ""', query);
      assert.equal(res.headers.getSetCookie().length, 2, query);
    }
    const checkout = await fetch(`${base}/checkout`, { headers: { cookie: "session=abc" } });
    assert.equal(await checkout.text(), 'checkout ""');
    assert.deepEqual(errors, []);
  });

  test("a wrong window is a clear error, even on a request without a click ID", async () => {
    const res = await fetch(`${base}/lp?window=0`);
    assert.equal(res.status, 500);
    assert.match(await res.text(), /TypeError: keepClickId: windowSeconds must be a number of seconds from 1 to 34560000/);
    errors.length = 0;
  });

  test("after the headers were sent it says so instead of losing the cookie", async () => {
    const res = await fetch(`${base}/late?sid=${ID}`);
    assert.equal(await res.text(), "body first then keepClickId: the response's headers were already sent; call it before writing the response");
  });
});
