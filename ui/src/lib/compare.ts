// The Compare page's logic: filters, sorting, matching connected devices to catalogue models,
// and "which of my assets does it support". Pure functions over the generated types, unit-tested.
import type { Cell, DeviceDescriptor, DeviceModel, Support } from "./api";

export type Filters = {
  coin: string | null;
  bitcoinOnly: boolean;
  openSource: boolean;
  airGapped: boolean;
  under100: boolean;
};

export const NO_FILTERS: Filters = {
  coin: null,
  bitcoinOnly: false,
  openSource: false,
  airGapped: false,
  under100: false,
};

export type SortKey = "name" | "price" | "coins" | "coldlink";

/** Exact cents of a decimal amount string, or null. */
export function cents(amount: string): number | null {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(amount);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0"));
}

/** The USD price in cents, or null when unknown or in another currency. */
export function usdCents(m: DeviceModel): number | null {
  const p = m.price.value;
  return p && p.currency === "USD" ? cents(p.amount) : null;
}

export function airGapped(m: DeviceModel): boolean {
  return m.connections["qr"]?.value === true || m.connections["microsd"]?.value === true;
}

export function coinsSupported(m: DeviceModel): number {
  return Object.values(m.coins).filter((c) => c.value === true).length;
}

export function supportCount(s: Support | undefined): number {
  return s ? Object.values(s).filter(Boolean).length : 0;
}

export function matches(m: DeviceModel, f: Filters): boolean {
  if (f.coin && m.coins[f.coin]?.value !== true) return false;
  if (f.bitcoinOnly && m.bitcoin_only.value !== true) return false;
  if (f.openSource && m.open_source_firmware.value !== "yes") return false;
  if (f.airGapped && !airGapped(m)) return false;
  if (f.under100) {
    const c = usdCents(m);
    if (c === null || c >= 10000) return false;
  }
  return true;
}

/** Filters then sorts; unknown prices sort last. Stable by name. */
export function view(
  models: DeviceModel[],
  support: Partial<Record<string, Support>>,
  f: Filters,
  key: SortKey,
): DeviceModel[] {
  const by: Record<SortKey, (m: DeviceModel) => number | string> = {
    name: (m) => m.name,
    price: (m) => usdCents(m) ?? Number.MAX_SAFE_INTEGER,
    coins: (m) => -coinsSupported(m),
    coldlink: (m) => -supportCount(support[m.id]),
  };
  const k = by[key];
  return models
    .filter((m) => matches(m, f))
    .sort((a, b) => {
      const x = k(a);
      const y = k(b);
      if (x < y) return -1;
      if (x > y) return 1;
      return a.name.localeCompare(b.name);
    });
}

/** The catalogue models a connected device may be. A USB identity can stand for several
 *  models (one Trezor id covers the Model T and the Safes): the device's reported name picks
 *  among them when it can. */
export function modelsFor(d: DeviceDescriptor, models: DeviceModel[]): DeviceModel[] {
  const candidates = models.filter((m) => m.usb_models.includes(d.model));
  if (candidates.length <= 1) return candidates;
  const named = candidates.filter((m) => d.modelName.includes(m.name));
  return named.length > 0 ? named : candidates;
}

/** For each model, the chosen assets it does not support (or cannot be shown to support). */
export function missingAssets(m: DeviceModel, assets: string[]): string[] {
  return assets.filter((a) => m.coins[a]?.value !== true);
}

/** What a cell shows. */
export function cellText<T>(c: Cell<T>, show: (v: T) => string): string {
  return c.value === null ? "unknown" : show(c.value);
}

/** The tooltip naming a cell's source. */
export function sourceText<T>(c: Cell<T>): string {
  if (!c.source) return "Unknown: no source found";
  const read = c.source.read ? ` (read ${c.source.read})` : "";
  return `Source: ${c.source.url}${read}${c.note ? `\n${c.note}` : ""}`;
}

/** The catalogue coins the user's accounts hold: each EVM account's native coin when it has a
 *  balance (or its balance is unknown), "ERC20" when it holds any token, and BTC for the
 *  software wallet (a Bitcoin wallet too). */
export function assetsFromAccounts(
  accounts: { symbol: string; balance: string | null; tokens: { amount: string | null }[] }[],
  softWallet: boolean,
): string[] {
  const out = new Set<string>();
  for (const a of accounts) {
    if (a.balance === null || Number(a.balance) > 0) out.add(a.symbol === "POL" ? "POL" : a.symbol);
    if (a.tokens.some((t) => t.amount !== null && Number(t.amount) > 0)) out.add("ERC20");
  }
  if (softWallet) out.add("BTC");
  return [...out];
}
