// End-to-end: Bitcoin in the real window against a real regtest node (Bitcoin Knots) with the
// simulated Ledger. Settings: the node is tested and saved. Accounts: a taproot account from
// the Ledger. Receive: the address in groups of four, its QR code, and "Verify on device" (the
// device shows it, the app records the check). The node pays the address; Sync shows it.
// Send: 0.1 BTC through the review (outputs, fee, rate), confirmed on the device, checked and
// broadcast; after a block the balance is exact to the satoshi.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import path from "node:path";
import { freePort, Session, startHarness } from "./webdriver.mjs";

const APP = process.env.COLDLINK_APP_BIN;
const NODE_DIR = process.env.COLDLINK_BITCOIN_NODE_DIR ?? path.join(homedir(), ".cache/coldlink/tools/knots");

async function rpc(port, method, params = [], wallet = "") {
  const r = await fetch(`http://127.0.0.1:${port}/${wallet ? `wallet/${wallet}` : ""}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Basic ${Buffer.from("coldlink:coldlink").toString("base64")}`,
    },
    body: JSON.stringify({ jsonrpc: "1.0", id: 1, method, params }),
  });
  const v = await r.json();
  if (v.error) throw new Error(`${method}: ${JSON.stringify(v.error)}`);
  return v.result;
}

async function choose(s, selectCss, value) {
  await s.click(await s.waitFor(selectCss));
  for (let i = 0; i < 100; i++) {
    for (const o of await s.findAll(`${selectCss} option`)) {
      if ((await s.attribute(o, "value")) === value) {
        await s.click(o);
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${selectCss} has no option ${value}`);
}

async function until(s, css, pred, ms = 15000) {
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

const sats = (btc) => {
  const [w, f = ""] = btc.split(".");
  return BigInt(w) * 100_000_000n + BigInt(f.padEnd(8, "0"));
};

test("receive with Verify on device and send with the simulated Ledger", async () => {
  const port = await freePort();
  const nodeData = mkdtempSync(path.join(tmpdir(), "coldlink-e2e-knots-"));
  const node = spawn(
    path.join(NODE_DIR, "bitcoind"),
    [
      "-regtest",
      `-datadir=${nodeData}`,
      `-rpcport=${port}`,
      `-port=${await freePort()}`,
      "-rpcuser=coldlink",
      "-rpcpassword=coldlink",
      "-rpcbind=127.0.0.1",
      "-rpcallowip=127.0.0.1",
      "-listen=0",
      "-fallbackfee=0.0002",
      "-printtoconsole=0",
    ],
    { stdio: "ignore" },
  );
  const dataDir = mkdtempSync(path.join(tmpdir(), "coldlink-e2e-btc-"));
  let harness;
  let s;
  try {
    for (let i = 0; ; i++) {
      try {
        await rpc(port, "getblockchaininfo");
        break;
      } catch (e) {
        if (i > 300) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await rpc(port, "createwallet", ["miner"]);
    const miner = await rpc(port, "getnewaddress", ["", "bech32"], "miner");
    await rpc(port, "generatetoaddress", [101, miner]);

    harness = await startHarness({
      COLDLINK_DATA_DIR: dataDir,
      COLDLINK_EXPORT_DIR: path.join(dataDir, "exports"),
      COLDLINK_SPECULOS: "off",
      COLDLINK_TREZOR_EMULATOR: "off",
    });
    s = await Session.create(harness, APP);
    await s.click(await s.waitFor('[data-nav="devices"]'));
    await s.click(await s.waitFor('[data-testid="demo-start"]', 5000));
    const ledgerCard = await s.waitFor('[data-device-id^="speculos:"]', 10000);
    const ledgerId = await s.attribute(ledgerCard, "data-device-id");

    // Settings: the node, tested before it is saved.
    await s.click(await s.waitFor('[data-nav="settings"]'));
    await choose(s, '[data-testid="node-network"]', "regtest");
    await s.type(await s.waitFor('[data-testid="node-url"]'), `http://127.0.0.1:${port}`);
    await s.type(await s.waitFor('[data-testid="node-user"]'), "coldlink");
    await s.type(await s.waitFor('[data-testid="node-password"]'), "coldlink");
    await s.click(await s.waitFor('[data-testid="node-save"]'));
    assert.match(await until(s, '[data-testid="node-status"]', (t) => /regtest/.test(t)), /block 101/);
    // Where the password went (no keyring in this window's session: the database, out of exports).
    assert.match(await s.text(await s.waitFor('[data-testid="node-password-kept"]')), /kept in (the system keyring|Coldlink's database)/);
    // The fee warning's thresholds: checked when saved.
    await s.type(await s.waitFor('[data-testid="fee-warning-share"]'), "x");
    await s.click(await s.waitFor('[data-testid="fee-warning-save"]'));
    assert.match(await s.text(await s.waitFor('[data-testid="fee-warning-error"]', 5000)), /not a share between 0\.01 and 100 percent/);

    // Accounts: a taproot account from the Ledger on regtest.
    await s.click(await s.waitFor('[data-nav="accounts"]'));
    await choose(s, '[data-testid="btc-network"]', "regtest");
    await s.click(await s.waitFor('[data-testid="btc-add"]', 10000));
    await choose(s, '[data-testid="btc-signer"]', ledgerId);
    await choose(s, '[data-testid="btc-kind"]', "tr");
    await s.click(await s.waitFor('[data-testid="btc-add-confirm"]'));
    await s.waitFor('[data-testid="btc-account"]', 20000);

    // Receive: address, QR, and the check on the device.
    await s.click(await s.waitFor('[data-testid="btc-receive"]'));
    const addrEl = await s.waitFor('[data-testid="receive-address"]', 15000);
    const address = await s.attribute(addrEl, "data-address");
    assert.match(address, /^bcrt1p/);
    assert.equal((await s.text(addrEl)).replace(/\s/g, ""), address, "grouped, same characters");
    assert.match(await s.attribute(await s.waitFor('[data-testid="receive-qr"]'), "src"), /^data:image\/svg\+xml/);
    await s.click(await s.waitFor('[data-testid="receive-verify"]'));
    await s.waitFor('[data-testid="receive-verified"]', 20000);
    await s.screenshot("btc-receive-verified");

    // The node pays it; Sync shows it.
    await rpc(port, "sendtoaddress", [address, 0.5], "miner");
    await rpc(port, "generatetoaddress", [1, miner]);
    await s.click(await s.waitFor('[data-nav="accounts"]'));
    await s.click(await s.waitFor('[data-testid="btc-sync"]', 10000));
    await until(s, '[data-testid="btc-balance"]', (t) => t === "0.5 BTC", 20000);
    await s.screenshot("btc-account-synced");

    // Send 0.1 BTC through the review; the Ledger confirms; the app checks and broadcasts.
    await s.click(await s.waitFor('[data-testid="btc-send"]'));
    await s.type(await s.waitFor('[data-testid="btc-send-to"]'), miner);
    await s.type(await s.waitFor('[data-testid="btc-send-amount"]'), "0.1");
    await choose(s, '[data-testid="btc-send-fee"]', "custom");
    await s.type(await s.waitFor('[data-testid="btc-send-feerate"]'), "3");
    await s.click(await s.waitFor('[data-testid="btc-send-review"]'));
    await s.waitFor('[data-testid="btc-review"]', 15000);
    const outputs = await s.findAll('[data-testid="btc-review-output"]');
    assert.equal(outputs.length, 2, "payment and change");
    const feeText = await s.text(await s.waitFor('[data-testid="btc-review-fee"]'));
    assert.match(feeText, /3\.0 sat\/vB/);
    const fee = BigInt(/\((\d+) sats/.exec(feeText)[1]);
    await s.screenshot("btc-review");
    // The unsigned PSBT saved as a BIP174 file for an air-gapped signer, where the app says.
    await s.click(await s.waitFor('[data-testid="btc-save-psbt"]'));
    const savedText = await s.text(await s.waitFor('[data-testid="btc-psbt-saved"]', 5000));
    const savedPath = savedText.match(/\/\S+\.psbt/)?.[0];
    assert.ok(savedPath?.startsWith(path.join(dataDir, "exports")), savedText);
    assert.equal(readFileSync(savedPath).subarray(0, 5).toString("latin1"), "psbt\xff");
    await s.click(await s.waitFor('[data-testid="btc-send-confirm"]'));
    const txid = await until(s, '[data-testid="btc-sent-txid"]', (t) => /^[0-9a-f]{64}$/.test(t), 30000);
    assert.ok((await rpc(port, "getrawmempool")).includes(txid), "in the node's mempool");
    await s.screenshot("btc-sent");

    // A block later, exact to the satoshi.
    await rpc(port, "generatetoaddress", [1, miner]);
    await s.click(await s.waitFor('[data-nav="accounts"]'));
    await s.click(await s.waitFor('[data-testid="btc-sync"]', 10000));
    await until(s, '[data-testid="btc-sync"]', (t) => t === "Sync", 20000);
    const left = await until(s, '[data-testid="btc-balance"]', (t) => t !== "0.5 BTC" && t !== "— BTC", 20000);
    assert.equal(sats(left.replace(" BTC", "")), 50_000_000n - 10_000_000n - fee);

    // The account's history: the payment in and the send out, each confirmed.
    await s.click(await s.waitFor('[data-testid="btc-history-toggle"]'));
    await s.waitFor(`[data-testid="btc-tx"][data-txid="${txid}"]`, 10000);
    const rows = await s.findAll('[data-testid="btc-tx"]');
    assert.equal(rows.length, 2);
    assert.match(await s.text(rows[0]), /-0\.1\d* BTC\s*1 conf\./);
    await s.screenshot("btc-history");
  } finally {
    if (s) await s.close().catch(() => {});
    if (harness) await harness.stop();
    try {
      await rpc(port, "stop");
    } catch {}
    await new Promise((r) => setTimeout(r, 1000));
    node.kill("SIGKILL");
    rmSync(nodeData, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
});
