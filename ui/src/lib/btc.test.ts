// The shared Bitcoin state's sync: a click while a sync runs is never lost (one more sync runs
// after it), balances of a network the user left are not shown, and a failure frees the button.
// The backend is replaced here by promises the test resolves by hand; the real one is exercised
// by the end-to-end tests.
import { beforeEach, describe, expect, it, vi } from "vitest";

type Balance = { accountId: number; confirmed: string; pending: string; tip: number; error: string | null };

const pending: { network: string; resolve: (b: Balance[]) => void; reject: (e: Error) => void }[] = [];
const api = {
  btcSync: vi.fn(
    (network: string) =>
      new Promise<Balance[]>((resolve, reject) => pending.push({ network, resolve, reject })),
  ),
  btcAccounts: vi.fn(async (_network: string) => []),
};
vi.mock("./api", () => ({ api }));
vi.stubGlobal("localStorage", { getItem: () => null, setItem: () => {} });

const { btc } = await import("./btc.svelte");

const balance = (confirmed: string): Balance[] => [
  { accountId: 1, confirmed, pending: "0", tip: 101, error: null },
];
const tick = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
  pending.length = 0;
  api.btcSync.mockClear();
  btc.choose("regtest");
});

describe("btc.sync", () => {
  it("runs once more when asked during a sync, and both callers wait for the last one", async () => {
    const first = btc.sync();
    expect(btc.syncing).toBe(true);
    const second = btc.sync();
    const third = btc.sync();
    let secondDone = false;
    void second.then(() => (secondDone = true));

    pending[0]!.resolve(balance("0")); // read before the payment
    await tick();
    expect(api.btcSync).toHaveBeenCalledTimes(2); // the two later clicks make one more sync
    expect(secondDone).toBe(false);
    expect(btc.syncing).toBe(true);

    pending[1]!.resolve(balance("0.5"));
    await Promise.all([first, second, third]);
    expect(btc.synced[1]?.confirmed).toBe("0.5");
    expect(btc.syncing).toBe(false);
    expect(api.btcSync).toHaveBeenCalledTimes(2);
  });

  it("does not show the balances of a network the user has left", async () => {
    btc.synced = {};
    const run = btc.sync();
    btc.choose("signet");
    pending[0]!.resolve(balance("7"));
    await run;
    expect(pending[0]!.network).toBe("regtest");
    expect(btc.synced).toEqual({});
  });

  it("passes a failure to its callers and frees the button", async () => {
    const run = btc.sync();
    pending[0]!.reject(new Error("The Electrum server at 127.0.0.1:1 is not answering"));
    await expect(run).rejects.toThrow("not answering");
    expect(btc.syncing).toBe(false);
    const next = btc.sync();
    expect(api.btcSync).toHaveBeenCalledTimes(2);
    pending[1]!.resolve(balance("1"));
    await next;
    expect(btc.synced[1]?.confirmed).toBe("1");
  });
});
