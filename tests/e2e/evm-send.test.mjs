// End-to-end: an ERC-20 send in the real window, signed by the demo Ledger, against a real
// node. The test starts anvil (public test mnemonic, so the demo Ledger's first account is
// funded) and deploys the test token (tests/fixtures/erc20); the app gets the node as its
// local network through COLDLINK_EVM_RPC. In the window: start the demo devices, add the
// Ledger's EVM account and the token, send 12.5 tokens through the review screen, see it
// confirmed, and the balances follow.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import path from "node:path";
import { freePort, Session, startHarness } from "./webdriver.mjs";

const APP = process.env.COLDLINK_APP_BIN;
const MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const LEDGER = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";
const TREZOR = "0x73d0385F4d8E00C5e6504C6030F47BF6212736A8";
const ANVIL =
  process.env.COLDLINK_ANVIL ??
  path.join(homedir(), ".cache/coldlink/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
const BYTECODE = readFileSync(new URL("../fixtures/erc20/ColdToken.bin", import.meta.url), "utf8").trim();

async function rpc(url, method, params) {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const v = await r.json();
  if (v.error) throw new Error(`${method}: ${JSON.stringify(v.error)}`);
  return v.result;
}

const word = (n) => BigInt(n).toString(16).padStart(64, "0");
function abiString(s) {
  const hex = Buffer.from(s, "utf8").toString("hex");
  return word(s.length) + hex.padEnd(Math.ceil(hex.length / 64) * 64, "0");
}

async function deployToken(url) {
  const name = abiString("Cold test token");
  const sym = abiString("CLD");
  const args = word(128) + word(128 + name.length / 2) + word(18) + word(1000n * 10n ** 18n) + name + sym;
  const hash = await rpc(url, "eth_sendTransaction", [{ from: LEDGER, data: `0x${BYTECODE}${args}`, gas: "0x200000" }]);
  for (let i = 0; i < 100; i++) {
    const r = await rpc(url, "eth_getTransactionReceipt", [hash]);
    if (r?.contractAddress) return r.contractAddress;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error("token not deployed");
}

/** Picks the option whose value equals `value` (addresses compared case-insensitively, as
 *  the app shows them EIP-55 checksummed). */
async function choose(s, selectCss, value) {
  await s.click(await s.waitFor(selectCss));
  await s.waitFor(`${selectCss} option`);
  for (let i = 0; i < 100; i++) {
    for (const o of await s.findAll(`${selectCss} option`)) {
      if ((await s.attribute(o, "value"))?.toLowerCase() === value.toLowerCase()) {
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

test("send an ERC-20 from the demo Ledger through the review screen", async () => {
  const port = await freePort();
  const anvil = spawn(ANVIL, ["--host", "127.0.0.1", "--port", String(port), "--chain-id", "31337", "--mnemonic", MNEMONIC], {
    stdio: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), "coldlink-e2e-evm-"));
  let harness;
  let s;
  let prices;
  try {
    for (let i = 0; ; i++) {
      try {
        await rpc(url, "eth_chainId", []);
        break;
      } catch (e) {
        if (i > 200) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const token = await deployToken(url);
    // A second, watch-only account holds 1 ETH.
    await rpc(url, "eth_sendTransaction", [{ from: LEDGER, to: TREZOR, value: "0xde0b6b3a7640000" }]);
    // A stand-in for the price service, in CoinGecko's format.
    prices = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.url.startsWith("/coins/ethereum/market_chart")) {
        const day = 86_400_000;
        const now = Math.floor(Date.now() / day) * day;
        res.end(JSON.stringify({ prices: [[now - 2 * day, 2900], [now - day, 3050], [now, 3012.47]] }));
      } else {
        res.end(JSON.stringify({ ethereum: { usd: 3012.47, usd_24h_change: -1.5 } }));
      }
    });
    await new Promise((r) => prices.listen(0, "127.0.0.1", r));
    harness = await startHarness({
      COLDLINK_PRICES_URL: `http://127.0.0.1:${prices.address().port}`,
      COLDLINK_DATA_DIR: dataDir,
      COLDLINK_SPECULOS: "off",
      COLDLINK_TREZOR_EMULATOR: "off",
      COLDLINK_EVM_RPC: `${url}#31337`,
    });
    s = await Session.create(harness, APP);

    await s.click(await s.waitFor('[data-nav="devices"]'));
    await s.click(await s.waitFor('[data-testid="demo-start"]', 5000));
    const ledgerCard = await s.waitFor('[data-device-id^="speculos:"]', 10000);
    const ledgerId = await s.attribute(ledgerCard, "data-device-id");

    // Accounts: the local network is first; add the Ledger's first EVM account and the token.
    await s.click(await s.waitFor('[data-nav="accounts"]'));
    // The page has read its (empty) account list before the form is opened: a click during
    // that first load was once lost under a loaded machine.
    await s.waitFor('[data-testid="evm-section"][data-loaded="true"]', 20000);
    await s.click(await s.waitFor('[data-testid="evm-add"]', 10000));
    await choose(s, '[data-testid="evm-signer"]', ledgerId);
    await s.click(await s.waitFor('[data-testid="evm-add-confirm"]'));
    await s.waitFor(`[data-testid="evm-account"][data-address="${LEDGER}"]`, 20000);
    await s.type(await s.waitFor('[data-testid="evm-token"]'), token);
    await s.click(await s.waitFor('[data-testid="evm-token-add"]'));
    await until(s, '[data-testid="evm-token-balance"][data-symbol="CLD"]', (t) => t === "1000 CLD");
    await s.screenshot("evm-accounts");

    // Send: 12.5 CLD to the Trezor's address, through the review.
    await s.click(await s.waitFor('[data-nav="send"]'));
    await s.click(await s.waitFor('[data-testid="send-tab-evm"]'));
    await choose(s, '[data-testid="send-asset"]', token);
    await s.type(await s.waitFor('[data-testid="send-to"]'), TREZOR);
    await s.type(await s.waitFor('[data-testid="send-amount"]'), "12.5");
    await s.click(await s.waitFor('[data-testid="send-review"]'));
    await s.waitFor('[data-testid="send-review-panel"]', 15000);
    assert.equal(await s.text(await s.waitFor('[data-testid="review-amount"]')), "12.5 CLD");
    assert.equal(await s.text(await s.waitFor('[data-testid="review-recipient"]')), TREZOR);
    assert.match(await s.text(await s.waitFor('[data-testid="send-review-panel"]')), /chain id 31337/);
    // The maximum fee in fiat, from the price service (the token itself has no price: none shown).
    assert.match(await s.text(await s.waitFor('[data-testid="review-max-fee"]')), /ETH\s*≈ \d+\.\d\d USD$/);
    await s.screenshot("evm-review");
    await s.click(await s.waitFor('[data-testid="send-confirm"]'));
    const result = await s.waitFor('[data-testid="send-result"][data-status="confirmed"]', 30000);
    assert.match(await s.text(result), /12\.5 CLD/);
    await s.waitFor('[data-testid="send-history"]', 5000);
    await s.screenshot("evm-sent");

    // The signing journal lists the send and checks out.
    await s.click(await s.waitFor('[data-nav="accounts"]'));
    const check = await until(s, '[data-testid="journal-check"]', (t) => /check out/.test(t));
    assert.match(check, /All 1 entries check out/);
    assert.match(await s.text(await s.waitFor('[data-testid="journal"]')), /broadcast/);

    // Compare → "My assets": filled from the accounts (ETH and an ERC-20 token); a
    // Bitcoin-only device is shown as not holding them.
    await s.click(await s.waitFor('[data-nav="compare"]'));
    await s.click(await s.waitFor('[data-testid="tab-mine"]', 20000));
    const held = await until(s, '[data-testid="held-assets"]', (t) => /ETH/.test(t) && /ERC20/.test(t));
    assert.match(held, /Your accounts hold: ETH, ERC20/);
    // The journal in Accounts lists one broadcast send (watch-only accounts never sign).
    const coldcard = await s.waitFor('[data-testid="mine-list"] li[data-model-id="coldcard-mk4"]');
    assert.match(await s.text(coldcard), /not ETH, ERC20/);
    const ledgerRow = await s.waitFor('[data-testid="mine-list"] li[data-model-id="ledger-nano-x"]');
    assert.match(await s.text(ledgerRow), /holds all of them/);
    await s.screenshot("compare-my-assets");

    // Add the watch-only account too: the portfolio then spans two accounts.
    await s.click(await s.waitFor('[data-nav="accounts"]'));
    await s.waitFor('[data-testid="evm-section"][data-loaded="true"]', 20000);
    await s.click(await s.waitFor('[data-testid="evm-add"]', 10000));
    await choose(s, '[data-testid="evm-signer"]', "watch");
    await s.type(await s.waitFor('[data-testid="evm-watch-address"]'), TREZOR);
    await s.click(await s.waitFor('[data-testid="evm-add-confirm"]'));
    await s.waitFor(`[data-testid="evm-account"][data-address="${TREZOR}"]`, 20000);

    // Portfolio: both accounts' ETH valued at 3012.47 USD, exactly (the token has no price:
    // listed apart), the 24 h change, and both charts drawn.
    const wei = BigInt(await rpc(url, "eth_getBalance", [LEDGER, "latest"])) + BigInt(await rpc(url, "eth_getBalance", [TREZOR, "latest"]));
    const scale = 10n ** 18n;
    const cents = (wei * 301247n * 2n + scale) / (2n * scale); // half away from zero
    const expected = `${cents / 100n}.${String(cents % 100n).padStart(2, "0")} USD`;
    await s.click(await s.waitFor('[data-nav="portfolio"]'));
    const total = await until(s, '[data-testid="portfolio-total"]', (t) => t === expected, 20000);
    assert.equal(total, expected);
    assert.match(await s.text(await s.waitFor('[data-testid="portfolio-change"]')), /-1\.5\d? % in 24 h/);
    assert.match(await s.text(await s.waitFor('[data-testid="portfolio-assets"] tr[data-symbol="CLD"]')), /^CLD\s*1000\s*no price/);
    await s.waitFor('[data-testid="chart-allocation"] canvas', 10000);
    const line = await s.waitFor('[data-testid="chart-history"][data-points="3"] canvas', 10000);
    assert.ok(line);
    await s.screenshot("portfolio");

    // Discreet mode blurs the amounts for screen sharing (the figures stay as they are), and
    // switches back.
    const toggle = await s.waitFor('[data-testid="discreet-toggle"]');
    await s.click(toggle);
    assert.equal(await s.attribute(toggle, "aria-pressed"), "true");
    const blurred = await s.waitFor('[data-testid="portfolio-total"]');
    assert.match(await s.css(blurred, "filter"), /blur/);
    assert.equal(await s.text(blurred), expected);
    await s.screenshot("portfolio-discreet");
    await s.click(toggle);
    assert.doesNotMatch(await s.css(await s.waitFor('[data-testid="portfolio-total"]'), "filter"), /blur/);

    // The node agrees: the recipient holds 12.5 CLD.
    const data = `0x70a08231${TREZOR.slice(2).toLowerCase().padStart(64, "0")}`;
    const bal = await rpc(url, "eth_call", [{ to: token, data }, "latest"]);
    assert.equal(BigInt(bal), 125n * 10n ** 17n);
  } finally {
    if (s) await s.close();
    if (harness) await harness.stop();
    anvil.kill();
    prices?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
