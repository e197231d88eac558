// A minimal W3C WebDriver client over fetch, plus the harness that starts Xvfb and
// tauri-driver for the real Coldlink window. Shared by the end-to-end tests.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { mkdirSync, existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import path from "node:path";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
export const OUT_DIR = path.resolve(process.env.COLDLINK_TEST_OUTPUT ?? "test-output/e2e");

/** A free TCP port on loopback. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      await fetch(url);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`nothing answered at ${url} within ${ms} ms`);
}

/** Starts Xvfb (unless a display is given) and tauri-driver with `env` for the app. */
export async function startHarness(env) {
  const procs = [];
  const childEnv = { ...process.env, ...env };
  if (!childEnv.DISPLAY) {
    const display = `:${90 + Math.floor(Math.random() * 400)}`;
    const xvfb = spawn("Xvfb", [display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"], {
      stdio: "ignore",
    });
    procs.push(xvfb);
    childEnv.DISPLAY = display;
    await sleep(500);
  }
  const port = await freePort();
  const nativePort = await freePort();
  const driver = spawn(
    "tauri-driver",
    ["--port", String(port), "--native-port", String(nativePort)],
    { env: childEnv, stdio: ["ignore", "inherit", "inherit"] },
  );
  procs.push(driver);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/status`, 15000);
  return {
    base,
    display: childEnv.DISPLAY,
    async stop() {
      for (const p of procs.reverse()) p.kill("SIGTERM");
      await sleep(300);
    },
  };
}

async function call(base, method, route, body) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const msg = json?.value?.message ?? res.statusText;
    throw new Error(`${method} ${route}: ${res.status} ${msg}`);
  }
  return json.value;
}

/** One WebDriver session on the Coldlink binary. */
export class Session {
  static async create(harness, application) {
    const { base, display } = harness;
    if (!existsSync(application)) throw new Error(`app binary not found: ${application}`);
    const v = await call(base, "POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application } } },
    });
    return new Session(base, v.sessionId, display);
  }

  constructor(base, id, display) {
    this.base = base;
    this.id = id;
    this.display = display;
  }

  cmd(method, route, body) {
    return call(this.base, method, `/session/${this.id}${route}`, body);
  }

  /** All elements matching `css`, as WebDriver ids. */
  async findAll(css) {
    const v = await this.cmd("POST", "/elements", { using: "css selector", value: css });
    return v.map((e) => e[ELEMENT]);
  }

  /** Waits until `css` matches and returns the first match. */
  async waitFor(css, ms = 10000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = await this.findAll(css);
      if (found.length > 0) return found[0];
      if (Date.now() > deadline) throw new Error(`no element matched ${css} within ${ms} ms`);
      await sleep(50);
    }
  }

  /** Waits until nothing matches `css`. */
  async waitGone(css, ms = 10000) {
    const deadline = Date.now() + ms;
    while ((await this.findAll(css)).length > 0) {
      if (Date.now() > deadline) throw new Error(`${css} still present after ${ms} ms`);
      await sleep(50);
    }
  }

  text(el) {
    return this.cmd("GET", `/element/${el}/text`);
  }

  /**
   * Clicks once the element is enabled. WebDriver "clicks" a disabled button without an error
   * and nothing happens, so a click racing a page's own loading would be lost silently; here it
   * waits for the button, and fails saying so if it never comes.
   */
  async click(el, ms = 10000) {
    const deadline = Date.now() + ms;
    while (!(await this.cmd("GET", `/element/${el}/enabled`))) {
      if (Date.now() > deadline) throw new Error(`clicked an element still disabled after ${ms} ms`);
      await sleep(50);
    }
    return this.cmd("POST", `/element/${el}/click`, {});
  }

  /** Types `text` into an input. */
  type(el, text) {
    return this.cmd("POST", `/element/${el}/value`, { text });
  }

  clear(el) {
    return this.cmd("POST", `/element/${el}/clear`, {});
  }

  attribute(el, name) {
    return this.cmd("GET", `/element/${el}/attribute/${name}`);
  }

  /** The computed value of a CSS property of an element. */
  css(el, property) {
    return this.cmd("GET", `/element/${el}/css/${property}`);
  }

  /**
   * Saves a PNG of the screen under the test-output folder; returns its path. Taken from the
   * X server rather than WebDriver's screenshot command, which hangs in WebKitGTK when GPU
   * compositing is off, as Coldlink runs it.
   */
  async screenshot(name) {
    mkdirSync(OUT_DIR, { recursive: true });
    const file = path.join(OUT_DIR, `${name}.png`);
    // Let the last click's repaint reach the X server.
    await sleep(150);
    execFileSync("import", ["-display", this.display, "-window", "root", file], { timeout: 15000 });
    return file;
  }

  async close() {
    await this.cmd("DELETE", "").catch(() => {});
  }
}
