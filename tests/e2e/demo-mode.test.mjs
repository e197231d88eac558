// End-to-end: demo mode as a first run would use it. From the empty Portfolio, "Try demo mode"
// starts the simulated devices, a local chain with funded accounts and fixed prices; the
// portfolio shows a total with both charts; an ERC-20 goes from the demo Ledger's account to
// the demo Trezor's through the review and the (simulated) device; the Trezor account's balance
// follows. Bitcoin too: the demo Ledger pays the demo Trezor's receive address 0.1 BTC on the
// demo regtest chain, and the Trezor's account shows 0.35 BTC after the block demo mode mines.
// When the app closes, the chains it started are gone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Session, startHarness } from "./webdriver.mjs";

const APP = process.env.COLDLINK_APP_BIN;
const TREZOR = "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8";

async function until(s, css, pred, ms = 20000) {
  const end = Date.now() + ms;
  let last = "";
  while (Date.now() < end) {
    const found = await s.findAll(css);
    if (found.length > 0) {
      last = await s.text(found[0]);
      if (pred(last)) return last;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${css}: last saw “${last}”`);
}

async function choose(s, selectCss, pred) {
  await s.click(await s.waitFor(selectCss));
  for (let i = 0; i < 100; i++) {
    for (const o of await s.findAll(`${selectCss} option`)) {
      if (pred(await s.text(o))) {
        await s.click(o);
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${selectCss}: no matching option`);
}

test("demo mode: start, portfolio, send a token on the simulated device, stop on exit", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "coldlink-e2e-demo-"));
  const harness = await startHarness({
    COLDLINK_DATA_DIR: dataDir,
    COLDLINK_SPECULOS: "off",
    COLDLINK_TREZOR_EMULATOR: "off",
  });
  let s = await Session.create(harness, APP);
  let rpc;
  try {
    await s.click(await s.waitFor('[data-nav="portfolio"]'));
    await s.click(await s.waitFor('[data-testid="demo-mode-start"]', 10000));
    const banner = await s.waitFor('[data-testid="demo-mode-banner"]', 30000);
    rpc = await s.attribute(banner, "data-rpc");
    assert.match(rpc, /^http:\/\/127\.0\.0\.1:\d+$/);
    await until(s, '[data-testid="portfolio-total"]', (t) => /^[1-9]\d*\.\d\d USD$/.test(t));
    await s.waitFor('[data-testid="chart-allocation"] canvas', 10000);
    await s.waitFor('[data-testid="chart-history"] canvas', 10000);
    // Two demo devices hold accounts: allocation by device too.
    await s.waitFor('[data-testid="chart-devices"] canvas', 10000);
    assert.match(await s.text(await s.waitFor('[data-testid="portfolio-signers"]')), /Ledger.*%.*Trezor|Trezor.*%.*Ledger/s);
    await s.screenshot("demo-portfolio");

    // Send 10 CLD from the demo Ledger's account to the demo Trezor's.
    await s.click(await s.waitFor('[data-nav="send"]'));
    await s.click(await s.waitFor('[data-testid="send-tab-evm"]'));
    await choose(s, '[data-testid="send-from"]', (t) => t.startsWith("Demo Ledger"));
    await choose(s, '[data-testid="send-asset"]', (t) => t.startsWith("CLD"));
    await s.type(await s.waitFor('[data-testid="send-to"]'), TREZOR);
    await s.type(await s.waitFor('[data-testid="send-amount"]'), "10");
    await s.click(await s.waitFor('[data-testid="send-review"]'));
    assert.equal(await s.text(await s.waitFor('[data-testid="review-amount"]', 20000)), "10 CLD");
    await s.click(await s.waitFor('[data-testid="send-confirm"]'));
    await s.waitFor('[data-testid="send-result"][data-status="confirmed"]', 30000);

    // The Trezor's account now holds 110 CLD.
    await s.click(await s.waitFor('[data-nav="accounts"]'));
    await until(
      s,
      `[data-testid="evm-account"][data-address="${TREZOR}"] [data-testid="evm-token-balance"][data-symbol="CLD"]`,
      (t) => t === "110 CLD",
    );
    await s.screenshot("demo-accounts");

    // Bitcoin: the Trezor's receive address, paid 0.1 BTC from the Ledger's account.
    await s.click(await s.waitFor('[data-nav="receive"]'));
    await choose(s, '[data-testid="receive-account"]', (t) => t.startsWith("Demo Trezor · Bitcoin"));
    await until(s, '[data-testid="receive-address"]', (t) => /^bcrt1q/.test(t.replace(/\s/g, "")));
    const to = await s.attribute(await s.waitFor('[data-testid="receive-address"]'), "data-address");
    await s.click(await s.waitFor('[data-nav="send"]'));
    await s.click(await s.waitFor('[data-testid="send-tab-btc"]'));
    await choose(s, '[data-testid="btc-send-from"]', (t) => t.startsWith("Demo Ledger · Bitcoin"));
    await s.type(await s.waitFor('[data-testid="btc-send-to"]'), to);
    await s.type(await s.waitFor('[data-testid="btc-send-amount"]'), "0.1");
    await s.click(await s.waitFor('[data-testid="btc-send-review"]'));
    await s.waitFor('[data-testid="btc-review"]', 20000);
    await s.click(await s.waitFor('[data-testid="btc-send-confirm"]'));
    await until(s, '[data-testid="btc-sent-txid"]', (t) => /^[0-9a-f]{64}$/.test(t), 30000);
    await s.click(await s.waitFor('[data-nav="accounts"]'));
    const end = Date.now() + 20000;
    let balances = [];
    while (Date.now() < end && !balances.includes("0.35 BTC")) {
      balances = await Promise.all((await s.findAll('[data-testid="btc-balance"]')).map((e) => s.text(e)));
      if (!balances.includes("0.35 BTC")) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(balances.includes("0.35 BTC"), `the Trezor's account received it: ${balances}`);
    await s.screenshot("demo-bitcoin-accounts");
  } finally {
    await s.close();
    await harness.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  // Everything demo mode started is gone with the app (within a few seconds of it).
  const alive = async () => {
    try {
      await fetch(rpc, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      return true;
    } catch {
      return false;
    }
  };
  let up = true;
  for (let i = 0; i < 50 && up; i++) {
    up = await alive();
    if (up) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(up, false, "the demo chain stopped with the app");
  let nodes = "";
  for (let i = 0; i < 50; i++) {
    try {
      nodes = execFileSync("pgrep", ["-f", `${dataDir}/demo/bitcoind`], { encoding: "utf8" });
    } catch {
      nodes = ""; // pgrep: nothing matched
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(nodes, "", "the demo Bitcoin node stopped with the app");
});
