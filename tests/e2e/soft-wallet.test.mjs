// End-to-end: the software wallet in the real window. Create → backup → confirm → first
// receive address → lock → unlock; and restore with one wrong word (error shown) then the right
// one. Each test runs the app on a fresh, throwaway data folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Session, startHarness } from "./webdriver.mjs";

const APP = process.env.COLDLINK_APP_BIN;
const TEST_PHRASE =
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

async function withApp(fn) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "coldlink-e2e-wallet-"));
  const harness = await startHarness({
    COLDLINK_DATA_DIR: dataDir,
    COLDLINK_SPECULOS: "off",
    COLDLINK_TREZOR_EMULATOR: "off",
  });
  const session = await Session.create(harness, APP);
  try {
    await session.click(await session.waitFor('[data-nav="devices"]'));
    await fn(session);
  } finally {
    await session.close();
    await harness.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function setPasswords(s) {
  await s.type(await s.waitFor('[data-testid="wallet-password"]'), "correct horse 1");
  await s.type(await s.waitFor('[data-testid="wallet-password2"]'), "correct horse 1");
}

const ungroup = async (s, el) => (await s.text(el)).replace(/\s+/g, "");

test("create a software wallet: backup, confirm, first address, lock and unlock", async () => {
  await withApp(async (s) => {
    await s.click(await s.waitFor('[data-testid="wallet-create"]'));
    await s.waitFor('[data-testid="backup-word"]');
    const wordEls = await s.findAll('[data-testid="backup-word"]');
    assert.equal(wordEls.length, 12);
    const words = [];
    for (const el of wordEls) words.push(await s.text(el));
    assert.ok(words.every((w) => /^[a-z]+$/.test(w)), words.join(" "));
    await s.screenshot("wallet-backup");
    await s.click(await s.waitFor('[data-testid="backup-done"]'));
    const inputs = await s.findAll('[data-testid="confirm-word"]');
    assert.equal(inputs.length, 3, "three words are asked back");
    for (const el of inputs) {
      const pos = Number(await s.attribute(el, "data-position"));
      await s.type(el, words[pos - 1]);
    }
    await setPasswords(s);
    await s.click(await s.waitFor('[data-testid="wallet-create-finish"]'));
    const addrEl = await s.waitFor('[data-testid="wallet-address"]', 20000);
    const address = await ungroup(s, addrEl);
    assert.match(address, /^bc1q[02-9ac-hj-np-z]{38}$/);
    assert.match(await s.text(addrEl), /^bc1q \S{4} /, "shown in groups of four");
    await s.screenshot("wallet-created");
    // The phrase is gone from the page once the wallet exists.
    assert.equal((await s.findAll('[data-testid="backup-word"]')).length, 0);
    await s.click(await s.waitFor('[data-testid="wallet-lock"]'));
    await s.type(await s.waitFor('[data-testid="unlock-password"]'), "wrong password");
    await s.click(await s.waitFor('[data-testid="wallet-unlock"]'));
    assert.match(await s.text(await s.waitFor('[data-testid="wallet-error"]', 10000)), /[Ww]rong password/);
    await s.clear(await s.waitFor('[data-testid="unlock-password"]'));
    await s.type(await s.waitFor('[data-testid="unlock-password"]'), "correct horse 1");
    await s.click(await s.waitFor('[data-testid="wallet-unlock"]'));
    assert.equal(await ungroup(s, await s.waitFor('[data-testid="wallet-address"]', 10000)), address);
  });
});

test("restore with one wrong word shows which, then the right phrase restores the wallet", async () => {
  await withApp(async (s) => {
    await s.click(await s.waitFor('[data-testid="wallet-restore"]'));
    const area = await s.waitFor('[data-testid="restore-phrase"]');
    await s.type(area, TEST_PHRASE.replace("abandon abandon abandon abandon abandon abandon", "abandon abandon abandon abandon abandon abandonn"));
    await setPasswords(s);
    await s.click(await s.waitFor('[data-testid="wallet-restore-finish"]'));
    const err = await s.text(await s.waitFor('[data-testid="wallet-error"]', 10000));
    assert.match(err, /Word 6 is not a recovery-phrase word\. Did you mean: abandon/);
    await s.screenshot("wallet-restore-wrong-word");
    await s.clear(area);
    // Autocomplete: type the start of the last word and pick the suggestion.
    await s.type(area, TEST_PHRASE.replace(/about$/, "abo"));
    await s.waitFor('[data-testid="suggestion"]');
    const chips = [];
    for (const el of await s.findAll('[data-testid="suggestion"]')) chips.push([el, await s.text(el)]);
    const about = chips.find(([, t]) => t === "about");
    assert.ok(about, `suggestions: ${chips.map(([, t]) => t).join(", ")}`);
    await s.click(about[0]);
    await s.click(await s.waitFor('[data-testid="wallet-restore-finish"]'));
    const addr = await ungroup(s, await s.waitFor('[data-testid="wallet-address"]', 20000));
    assert.equal(addr, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "BIP84's published first address");
    await s.screenshot("wallet-restored");
    // Deleting needs the password and the typed word.
    await s.click(await s.waitFor('[data-testid="delete-open"]'));
    await s.type(await s.waitFor('[data-testid="delete-password"]'), "correct horse 1");
    await s.type(await s.waitFor('[data-testid="delete-confirm"]'), "delete");
    await s.click(await s.waitFor('[data-testid="wallet-delete"]'));
    await s.waitFor('[data-testid="wallet-create"]', 10000);
    assert.match(await s.text(await s.waitFor('[data-testid="wallet-notice"]')), /deleted/);
  });
});
