// End-to-end: the real Coldlink window under Xvfb, driven through tauri-driver and
// WebKitWebDriver. Visits every section, checks the Devices page shows the simulated Ledger
// (coldlink-sim, speaking Speculos' protocol) with its app and fingerprint and follows it
// disappearing and reappearing, and saves a screenshot of each page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createConnection } from "node:net";
import { statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Session, startHarness, freePort } from "./webdriver.mjs";

const APP = process.env.COLDLINK_APP_BIN;
const SIM = process.env.COLDLINK_SIM_BIN;
const SECTIONS = [
  ["portfolio", "Portfolio"],
  ["accounts", "Accounts"],
  ["devices", "Devices"],
  ["send", "Send"],
  ["receive", "Receive"],
  ["compare", "Compare devices"],
  ["settings", "Settings"],
];

function accepts(port) {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: "127.0.0.1" }, () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

/** Starts the simulated Ledger with the Bitcoin app open; resolves once it listens. */
async function startSim(port) {
  const child = spawn(SIM, ["ledger", "--port", String(port), "--app", "Bitcoin"], {
    stdio: "ignore",
  });
  const deadline = Date.now() + 10000;
  while (!(await accepts(port))) {
    if (Date.now() > deadline) throw new Error("coldlink-sim did not start");
    await sleep(50);
  }
  return child;
}

async function stopSim(child) {
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await gone;
}

let harness;
let session;
let speculosPort;
let speculos;

before(async () => {
  assert.ok(APP, "set COLDLINK_APP_BIN to the built coldlink-desktop binary");
  assert.ok(SIM, "set COLDLINK_SIM_BIN to the built coldlink-sim binary");
  speculosPort = await freePort();
  speculos = await startSim(speculosPort);
  harness = await startHarness({
    COLDLINK_SPECULOS: `127.0.0.1:${speculosPort}`,
    COLDLINK_TREZOR_EMULATOR: "off",
  });
  session = await Session.create(harness, APP);
});

after(async () => {
  await session?.close();
  await harness?.stop();
  if (speculos) await stopSim(speculos);
});

test("every section opens as a real page with its title and content", async () => {
  await session.waitFor("[data-nav]");
  const navs = await session.findAll("nav [data-nav]");
  assert.equal(navs.length, SECTIONS.length, "one navigation entry per section");
  for (const [id, title] of SECTIONS) {
    await session.click(await session.waitFor(`[data-nav="${id}"]`));
    await session.waitFor(`main[data-page="${id}"]`);
    assert.equal(await session.text(await session.waitFor("h1")), title);
    const body = await session.text(await session.waitFor("main"));
    assert.ok(body.trim().length > 40, `${id} page explains itself: ${body}`);
    const shot = await session.screenshot(id);
    assert.ok(statSync(shot).size > 5000, `${id} screenshot has content`);
  }
});

test("the Devices page shows the simulated Ledger and follows it coming and going", async () => {
  await session.click(await session.waitFor('[data-nav="devices"]'));
  const id = `speculos:127.0.0.1:${speculosPort}`;
  const card = await session.waitFor(`[data-device-id="${id}"]`);
  const text = await session.text(card);
  assert.match(text, /Ledger emulator \(Speculos\)/);
  assert.match(text, new RegExp(`Emulator at 127\\.0\\.0\\.1:${speculosPort}`));
  assert.match(text, /never for real funds/);
  assert.match(
    await session.text(await session.waitFor(`[data-device-id="${id}"] [data-testid="device-app"]`)),
    /^Bitcoin 2\.1\.3$/,
  );
  assert.equal(
    await session.text(await session.waitFor(`[data-device-id="${id}"] [data-testid="device-fingerprint"]`)),
    "73c5da0a",
    "the fingerprint of the abandon…about test seed",
  );
  assert.match(await session.text(await session.waitFor('[data-testid="device-chip"]')), /Speculos/);
  await session.screenshot("devices-connected");

  await stopSim(speculos);
  speculos = null;
  let t = Date.now();
  await session.waitGone(`[data-device-id="${id}"]`, 5000);
  const goneMs = Date.now() - t;
  const none = await session.text(await session.waitFor('[data-testid="no-device"]'));
  assert.match(none, /No device connected/);
  assert.match(none, /udev rules/);
  assert.match(await session.text(await session.waitFor('[data-testid="device-chip"]')), /No device/);
  // Unplugged, but remembered by its fingerprint.
  assert.match(await session.text(await session.waitFor('[data-testid="known-device"]', 5000)), /73c5da0a.*last seen/s);
  await session.screenshot("devices-none");

  speculos = await startSim(speculosPort);
  t = Date.now();
  await session.waitFor(`[data-device-id="${id}"]`, 5000);
  const backMs = Date.now() - t;
  console.log(`# device list latency: gone after ${goneMs} ms, back after ${backMs} ms`);
});

test("with nothing connected, the demo device can be started and stopped from the Devices page", async () => {
  if (speculos) {
    await stopSim(speculos);
    speculos = null;
  }
  await session.click(await session.waitFor('[data-nav="devices"]'));
  await session.click(await session.waitFor('[data-testid="demo-start"]', 5000));
  const card = await session.waitFor('[data-device-id^="speculos:"]', 5000);
  const text = await session.text(card);
  assert.match(text, /Demo Ledger \(simulated\)/);
  assert.match(text, /never for real funds/);
  assert.equal(
    await session.text(await session.waitFor('[data-device-id^="speculos:"] [data-testid="device-fingerprint"]')),
    "73c5da0a",
  );
  await session.screenshot("devices-demo");
  await session.click(await session.waitFor('[data-testid="demo-stop"]'));
  await session.waitFor('[data-testid="no-device"]', 5000);
});
