// End-to-end: the Compare page in the real window. Filtering by a coin shows exactly the models
// the catalogue marks as supporting it (read from the catalogue file itself), "under $100"
// narrows further, and the connected demo Trezor One is highlighted with a link to Devices.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Session, startHarness } from "./webdriver.mjs";

const APP = process.env.COLDLINK_APP_BIN;
const catalogue = JSON.parse(
  readFileSync(new URL("../../crates/catalogue/data/devices.json", import.meta.url), "utf8"),
);

async function shownIds(s) {
  const ids = [];
  for (const row of await s.findAll('[data-testid="compare-table"] tbody tr')) {
    ids.push(await s.attribute(row, "data-model-id"));
  }
  return ids.sort();
}

async function until(fn, ms = 5000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last.ok) return last.value;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last.value;
}

test("compare: filter by a coin, by price, and the connected device is highlighted", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "coldlink-e2e-compare-"));
  const harness = await startHarness({
    COLDLINK_DATA_DIR: dataDir,
    COLDLINK_SPECULOS: "off",
    COLDLINK_TREZOR_EMULATOR: "off",
  });
  const s = await Session.create(harness, APP);
  try {
    await s.click(await s.waitFor('[data-nav="devices"]'));
    await s.click(await s.waitFor('[data-testid="demo-start"]', 5000));
    await s.waitFor('[data-device-id^="trezor-emu:"]', 10000);
    await s.click(await s.waitFor('[data-nav="compare"]'));
    await s.waitFor('[data-testid="compare-table"]', 20000);
    const all = catalogue.models.map((m) => m.id).sort();
    assert.deepEqual(await shownIds(s), all);

    // Filter by Monero: exactly the models whose XMR cell is true.
    const xmr = catalogue.models.filter((m) => m.coins.XMR.value === true).map((m) => m.id).sort();
    assert.ok(xmr.length > 0 && xmr.length < all.length, "a filter that means something");
    const select = await s.waitFor('[data-testid="filter-coin"]');
    await s.click(select);
    await s.click(await s.waitFor('[data-testid="filter-coin"] option[value="XMR"]'));
    const got = await until(async () => {
      const ids = await shownIds(s);
      return { ok: JSON.stringify(ids) === JSON.stringify(xmr), value: ids };
    });
    assert.deepEqual(got, xmr);
    assert.match(await s.text(await s.waitFor('[data-testid="compare-count"]')), new RegExp(`^${xmr.length} of ${all.length}`));
    await s.screenshot("compare-xmr");

    // And under $100 (known USD prices only).
    const cheap = catalogue.models
      .filter((m) => m.coins.XMR.value === true)
      .filter((m) => m.price.value !== "unknown" && m.price.value.currency === "USD" && Number(m.price.value.amount) < 100)
      .map((m) => m.id)
      .sort();
    await s.click(await s.waitFor('[data-testid="filter-under100"]'));
    const got2 = await until(async () => {
      const ids = await shownIds(s);
      return { ok: JSON.stringify(ids) === JSON.stringify(cheap), value: ids };
    });
    assert.deepEqual(got2, cheap);
    await s.click(await s.waitFor('[data-testid="filter-under100"]'));

    // Back to every coin: the demo Trezor One is the connected model.
    await s.click(select);
    await s.click(await s.waitFor('[data-testid="filter-coin"] option:first-child'));
    const row = await s.waitFor('tr[data-model-id="trezor-model-one"].connected', 10000);
    assert.match(await s.text(row), /open in Devices/);
    await s.screenshot("compare");
    await s.click(await s.waitFor('tr[data-model-id="trezor-model-one"] [data-testid="connected-link"]'));
    await s.waitFor('[data-page="devices"]', 5000);
  } finally {
    await s.close();
    await harness.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
