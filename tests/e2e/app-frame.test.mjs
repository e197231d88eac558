// End-to-end: the real Coldlink window under Xvfb, driven through tauri-driver and
// WebKitWebDriver. Visits every section, checks the Devices page follows an emulator endpoint
// appearing and disappearing, and saves a screenshot of each page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { statSync } from "node:fs";
import { Session, startHarness, freePort } from "./webdriver.mjs";

const APP = process.env.COLDLINK_APP_BIN;
const SECTIONS = [
  ["portfolio", "Portfolio"],
  ["accounts", "Accounts"],
  ["devices", "Devices"],
  ["send", "Send"],
  ["receive", "Receive"],
  ["compare", "Compare devices"],
  ["settings", "Settings"],
];

// A stand-in for Speculos' APDU port: discovery only checks that something accepts TCP there.
function listen(port) {
  return new Promise((resolve, reject) => {
    const server = createServer((sock) => sock.destroy());
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

let harness;
let session;
let speculosPort;
let speculos;

before(async () => {
  assert.ok(APP, "set COLDLINK_APP_BIN to the built coldlink-desktop binary");
  speculosPort = await freePort();
  speculos = await listen(speculosPort);
  harness = await startHarness({
    COLDLINK_SPECULOS: `127.0.0.1:${speculosPort}`,
    COLDLINK_TREZOR_EMULATOR: "off",
  });
  session = await Session.create(harness, APP);
});

after(async () => {
  await session?.close();
  await harness?.stop();
  speculos?.close();
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

test("the Devices page follows an emulator appearing and disappearing", async () => {
  await session.click(await session.waitFor('[data-nav="devices"]'));
  const id = `speculos:127.0.0.1:${speculosPort}`;
  const card = await session.waitFor(`[data-device-id="${id}"]`);
  const text = await session.text(card);
  assert.match(text, /Ledger emulator \(Speculos\)/);
  assert.match(text, new RegExp(`Emulator at 127\\.0\\.0\\.1:${speculosPort}`));
  assert.match(text, /never for real funds/);
  assert.match(await session.text(await session.waitFor('[data-testid="device-chip"]')), /Speculos/);
  await session.screenshot("devices-connected");

  speculos.close();
  let t = Date.now();
  await session.waitGone(`[data-device-id="${id}"]`, 5000);
  const goneMs = Date.now() - t;
  const none = await session.text(await session.waitFor('[data-testid="no-device"]'));
  assert.match(none, /No device connected/);
  assert.match(none, /udev rules/);
  assert.match(await session.text(await session.waitFor('[data-testid="device-chip"]')), /No device/);
  await session.screenshot("devices-none");

  speculos = await listen(speculosPort);
  t = Date.now();
  await session.waitFor(`[data-device-id="${id}"]`, 5000);
  const backMs = Date.now() - t;
  console.log(`# device list latency: gone after ${goneMs} ms, back after ${backMs} ms`);
});
