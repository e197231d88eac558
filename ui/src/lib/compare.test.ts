import { describe, expect, it } from "vitest";
import type { DeviceDescriptor, DeviceModel } from "./api";
import { assetsFromAccounts, cents, matches, missingAssets, modelsFor, NO_FILTERS, view } from "./compare";

const src = { url: "https://example.org", read: null };
const yes = { value: true, source: src, note: null };
const no = { value: false, source: src, note: null };
const unknown = { value: null, source: null, note: null };

function model(id: string, name: string, over: Partial<DeviceModel> = {}): DeviceModel {
  return {
    id,
    vendor: "V",
    name,
    driver: null,
    usb_models: [],
    price: unknown,
    connections: { qr: no, microsd: no },
    screen: unknown,
    input: unknown,
    secure_element: unknown,
    open_source_firmware: unknown,
    bitcoin_only: no,
    vendor_coin_count: unknown,
    coins: { BTC: yes, ETH: no },
    coldlink_claims: {
      detect: false,
      xpub: false,
      verifyAddress: false,
      signBitcoin: false,
      taproot: false,
      signEvm: false,
      psbtFile: false,
    },
    ...over,
  };
}

const usd = (amount: string) => ({ value: { amount, currency: "USD", as_of: null }, source: src, note: null });

describe("compare", () => {
  const cheap = model("a", "Alpha", { price: usd("49.99"), coins: { BTC: yes, ETH: yes } });
  const pricey = model("b", "Beta", {
    price: usd("149"),
    bitcoin_only: yes,
    open_source_firmware: { value: "yes", source: src, note: null },
  });
  const gapped = model("c", "Gamma", { connections: { qr: yes, microsd: no } });
  const all = [pricey, gapped, cheap];

  it("reads prices exactly", () => {
    expect(cents("49.99")).toBe(4999);
    expect(cents("79")).toBe(7900);
    expect(cents("7.5")).toBe(750);
    expect(cents("1e3")).toBeNull();
  });

  it("filters by coin, Bitcoin-only, open source, air gap and price", () => {
    expect(view(all, {}, { ...NO_FILTERS, coin: "ETH" }, "name").map((m) => m.id)).toEqual(["a"]);
    expect(view(all, {}, { ...NO_FILTERS, bitcoinOnly: true }, "name").map((m) => m.id)).toEqual(["b"]);
    expect(view(all, {}, { ...NO_FILTERS, openSource: true }, "name").map((m) => m.id)).toEqual(["b"]);
    expect(view(all, {}, { ...NO_FILTERS, airGapped: true }, "name").map((m) => m.id)).toEqual(["c"]);
    // An unknown price is not "under $100".
    expect(view(all, {}, { ...NO_FILTERS, under100: true }, "name").map((m) => m.id)).toEqual(["a"]);
    expect(matches(gapped, NO_FILTERS)).toBe(true);
  });

  it("sorts by price with unknown prices last", () => {
    expect(view(all, {}, NO_FILTERS, "price").map((m) => m.id)).toEqual(["a", "b", "c"]);
    expect(view(all, {}, NO_FILTERS, "coins").map((m) => m.id)).toEqual(["a", "b", "c"]);
  });

  it("matches a connected device to its model, by name when the USB id is shared", () => {
    const t = model("t", "Trezor Model T", { usb_models: ["trezor"] });
    const s3 = model("s3", "Trezor Safe 3", { usb_models: ["trezor"] });
    const dev = { model: "trezor", modelName: "Trezor Safe 3 “mine”" } as DeviceDescriptor;
    expect(modelsFor(dev, [t, s3]).map((m) => m.id)).toEqual(["s3"]);
    const anon = { model: "trezor", modelName: "Trezor emulator" } as DeviceDescriptor;
    expect(modelsFor(anon, [t, s3]).length).toBe(2);
  });

  it("names the assets a model lacks", () => {
    expect(missingAssets(cheap, ["BTC", "ETH"])).toEqual([]);
    expect(missingAssets(pricey, ["BTC", "ETH", "XMR"])).toEqual(["ETH", "XMR"]);
  });

  it("derives the assets from the accounts", () => {
    const acc = (symbol: string, balance: string | null, tokens: (string | null)[]) => ({
      symbol,
      balance,
      tokens: tokens.map((amount) => ({ amount })),
    });
    expect(assetsFromAccounts([acc("ETH", "0", ["0"])], false)).toEqual([]);
    expect(assetsFromAccounts([acc("ETH", "1.5", ["0", "12.5"])], true).sort()).toEqual(["BTC", "ERC20", "ETH"]);
    expect(assetsFromAccounts([acc("POL", null, [])], false)).toEqual(["POL"]);
  });
});
