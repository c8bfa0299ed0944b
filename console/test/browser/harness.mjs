// Starts a real Baton (the binary in BATON_BIN, on its embedded PostgreSQL
// in a fresh data directory, demo data, postbacks allowed to loopback), a
// postback receiver on 127.0.0.1, and Debian's Chromium through
// playwright-core. Everything is stopped when the test ends.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as netServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const ADMIN_KEY = "baton-dev-admin-key";
export const ADVERTISER_KEY = "bk_demo_advertiser_key_0000000000";
export const PUBLISHER_KEY = "bk_demo_publisher_key_00000000000";
export const PUBLISHER2_KEY = "bk_demo_publisher2_key_0000000000";

const root = resolve(import.meta.dirname, "../../..");

export function chromiumPath() {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) if (existsSync(p)) return p;
  return "";
}

async function freePort() {
  return new Promise((ok, fail) => {
    const s = netServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

/**
 * A real Jaeger (v2, in memory) from BATON_JAEGER_BIN and
 * BATON_JAEGER_CONFIG (built by make), or null when they are not set.
 */
export async function startJaeger() {
  const bin = process.env.BATON_JAEGER_BIN;
  const cfg = process.env.BATON_JAEGER_CONFIG;
  if (!bin || !cfg) {
    if (process.env.BATON_REQUIRE_JAEGER === "1") throw new Error("BATON_REQUIRE_JAEGER=1 but BATON_JAEGER_BIN / BATON_JAEGER_CONFIG are not set");
    return null;
  }
  const [query, queryGrpc, otlpGrpc, otlpHttp] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const proc = spawn(bin, ["--config", cfg], {
    env: { ...process.env, JAEGER_QUERY_PORT: String(query), JAEGER_QUERY_GRPC_PORT: String(queryGrpc), JAEGER_OTLP_GRPC_PORT: String(otlpGrpc), JAEGER_OTLP_HTTP_PORT: String(otlpHttp) },
    stdio: "ignore",
  });
  const exited = new Promise((ok) => proc.on("exit", ok));
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error("jaeger exited during start");
    try {
      if ((await fetch(`http://127.0.0.1:${query}/api/services`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    queryUrl: `http://127.0.0.1:${query}`,
    otlpHttp: `http://127.0.0.1:${otlpHttp}`,
    async stop() {
      proc.kill("SIGKILL");
      await exited;
    },
  };
}

export async function startBaton(extraEnv = {}) {
  const bin = process.env.BATON_BIN ? resolve(process.env.BATON_BIN) : join(root, ".tmp/bin/baton");
  if (!existsSync(bin)) throw new Error(`no Baton binary at ${bin}: build it (make build) or set BATON_BIN`);
  const data = mkdtempSync(join(tmpdir(), "baton-console-"));
  chmodSync(data, 0o711);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = "";
  const proc = spawn(bin, [], {
    env: {
      ...process.env, BATON_ADDR: `127.0.0.1:${port}`, BATON_DATA_DIR: data, BATON_ADMIN_KEY: ADMIN_KEY, BATON_DEMO: "true",
      BATON_POSTBACK_ALLOW: "127.0.0.0/8", BATON_POSTBACK_SCHEDULE: "200ms,500ms,1s", BATON_LOG_FORMAT: "json",
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout.on("data", (b) => (log += b));
  proc.stderr.on("data", (b) => (log += b));
  const exited = new Promise((ok) => proc.on("exit", ok));
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`baton exited during start:\n${log}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    log: () => log,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 20000))]);
        if (proc.exitCode === null) proc.kill("SIGKILL");
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** A postback receiver: records every request, answers 200 "ok". */
export async function startReceiver() {
  const got = [];
  const waiters = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (b) => (body += b));
    req.on("end", () => {
      got.push({ method: req.method, url: req.url, body, headers: req.headers });
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("ok from receiver");
      for (const w of [...waiters]) w();
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    got,
    /** Waits until a request matching pred arrives (or fails after ms). */
    async waitFor(pred, ms = 20000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = got.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no matching postback arrived; got ${JSON.stringify(got.map((g) => g.url))}`);
        await new Promise((ok) => {
          waiters.push(ok);
          setTimeout(ok, 200);
        });
      }
    },
    close: () => new Promise((ok) => server.close(ok)),
  };
}

/** Calls an RPC with Connect JSON, as curl would. */
export async function rpc(base, key, method, body) {
  const r = await fetch(`${base}/baton.v1.${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body ?? {}),
  });
  const text = await r.text();
  const json = text ? JSON.parse(text) : {};
  if (!r.ok) {
    const e = new Error(`${method}: ${r.status} ${text}`);
    e.status = r.status;
    e.body = json;
    throw e;
  }
  return json;
}

/** Follows the demo link once (no redirect) and returns Baton's click ID. */
export async function click(base, query) {
  const r = await fetch(`${base}/c/demo?${query}`, { redirect: "manual", headers: { "User-Agent": "Mozilla/5.0 (console test)" } });
  const loc = r.headers.get("location") ?? "";
  const m = /[?&]sid=([^&]+)/.exec(loc);
  if (!m) throw new Error(`no click ID in ${r.status} ${loc}`);
  return decodeURIComponent(m[1]);
}

export async function launch() {
  const exe = chromiumPath();
  return chromium.launch({
    executablePath: exe,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-proxy-server"],
  });
}

export function artifactsDir() {
  const dir = resolve(process.env.CONSOLE_ARTIFACTS ?? join(root, ".tmp/console-artifacts"));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Signs in on a fresh page and waits for the role line. */
export async function signIn(context, base, key, lang = "en") {
  const page = await context.newPage();
  await page.addInitScript((l) => localStorage.setItem("baton.lang", l), lang);
  await page.goto(`${base}/`);
  await page.locator('input[name="apiKey"]').fill(key);
  await page.locator('form button[type="submit"]').click();
  await page.getByTestId("whoami").waitFor();
  return page;
}
