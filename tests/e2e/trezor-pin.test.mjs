// End-to-end: the simulated Trezor One of the demo in the real window. It is listed locked;
// "Unlock" opens the app's blank PIN pad; the test reads the scrambled digits off the
// simulated device's screen (as a person reads the device) and clicks the cells where 1, 2, 3
// and 4 are; the device unlocks and its fingerprint (Trezor's test seed) is shown. A wrong PIN
// first shows a typed error and leaves it locked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Session, startHarness } from "./webdriver.mjs";

const APP = process.env.COLDLINK_APP_BIN;
const CARD = '[data-device-id^="trezor-emu:"]';

/** Keypad numbering: the matrix rows are shown top to bottom as 7-8-9, 4-5-6, 1-2-3. */
function positionsFor(matrix, pin) {
  const digits = matrix.replace(/[^0-9]/g, "");
  const order = [7, 8, 9, 4, 5, 6, 1, 2, 3];
  return [...pin].map((d) => order[digits.indexOf(d)]);
}

/** Reads the simulated screen's pad; the page polls it, so wait until it is not the previous
 *  prompt's (each PIN request scrambles anew; a same-looking pad just takes one more poll). */
async function readMatrix(s, previous) {
  const end = Date.now() + 5000;
  let matrix = null;
  while (Date.now() < end) {
    matrix = await s.attribute(await s.waitFor(`${CARD} [data-testid="demo-matrix"]`, 5000), "data-matrix");
    if (matrix !== previous) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return matrix;
}

async function enterPin(s, pin, previous = null) {
  await s.click(await s.waitFor(`${CARD} [data-testid="device-unlock"]`, 10000));
  await s.waitFor('[data-testid="pin-pad"]', 10000);
  const matrix = await readMatrix(s, previous);
  assert.match(matrix, /^\d{3}\/\d{3}\/\d{3}$/);
  for (const cell of positionsFor(matrix, pin)) {
    await s.click(await s.waitFor(`[data-testid="pin-cell-${cell}"]`));
  }
  assert.equal(await s.text(await s.waitFor('[data-testid="pin-entered"]')), "●".repeat(pin.length));
  return matrix;
}

test("the demo Trezor is unlocked through the PIN pad and shows its fingerprint", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "coldlink-e2e-trezor-"));
  const harness = await startHarness({
    COLDLINK_DATA_DIR: dataDir,
    COLDLINK_SPECULOS: "off",
    COLDLINK_TREZOR_EMULATOR: "off",
  });
  const s = await Session.create(harness, APP);
  try {
    await s.click(await s.waitFor('[data-nav="devices"]'));
    await s.click(await s.waitFor('[data-testid="demo-start"]', 5000));
    const card = await s.waitFor(CARD, 10000);
    assert.match(await s.text(card), /Demo Trezor One \(simulated\)/);
    assert.match(await s.text(card), /Locked/);
    assert.equal(await s.text(await s.waitFor(`${CARD} [data-testid="device-fingerprint"]`)), "unlock to read it");

    // A wrong PIN: a clear error, still locked.
    const first = await enterPin(s, "4321");
    await s.screenshot("trezor-pin-pad");
    await s.click(await s.waitFor('[data-testid="pin-submit"]'));
    await s.waitGone('[data-testid="pin-pad"]', 10000);
    const err = await s.waitFor(`${CARD} [role="alert"]`, 10000);
    assert.match(await s.text(err), /wrong PIN/i);

    // The right one.
    await enterPin(s, "1234", first);
    await s.click(await s.waitFor('[data-testid="pin-submit"]'));
    await s.waitGone('[data-testid="pin-pad"]', 10000);
    const deadline = Date.now() + 10000;
    let fp = "";
    while (Date.now() < deadline) {
      fp = await s.text(await s.waitFor(`${CARD} [data-testid="device-fingerprint"]`));
      if (fp === "5c9e228d") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(fp, "5c9e228d");
    assert.doesNotMatch(await s.text(await s.waitFor(CARD)), /Locked/);
    await s.screenshot("trezor-unlocked");
  } finally {
    await s.close();
    await harness.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
