// The Bitcoin network the Accounts, Receive and Send pages work on (remembered across runs),
// its accounts as last synced, and the account a page hands to the next (Receive, Send).
import { api, type BtcAccountView, type BtcBalanceView, type BtcReview } from "./api";

const KEY = "coldlink.btc.network";

export const BTC_NETWORKS: { key: string; name: string }[] = [
  { key: "bitcoin", name: "Mainnet" },
  { key: "testnet", name: "Testnet" },
  { key: "signet", name: "Signet" },
  { key: "regtest", name: "Regtest" },
];

class BtcState {
  network = $state<string>(localStorage.getItem(KEY) ?? "bitcoin");
  accounts = $state<BtcAccountView[]>([]);
  /** Per account id: what the last sync in this session said (errors included). */
  synced = $state<Record<number, BtcBalanceView>>({});
  selected = $state<number | null>(null);
  /** A review made elsewhere (fee bump, CPFP) for the Send page to show. */
  handoff = $state<BtcReview | null>(null);

  choose(key: string) {
    this.network = key;
    localStorage.setItem(KEY, key);
    this.accounts = [];
    this.synced = {};
  }

  /** The accounts with their last known balances, at once (no network call). */
  async load() {
    this.accounts = await api.btcAccounts(this.network);
    if (this.selected === null || !this.accounts.some((a) => a.id === this.selected)) {
      this.selected = this.accounts[0]?.id ?? null;
    }
  }

  /** True while a sync runs, on whichever page started it. */
  syncing = $state(false);
  #running: Promise<void> | null = null;
  #again = false;

  /**
   * Syncs from the node; what could not be synced keeps its last balance and says why.
   * Asked while a sync runs, it runs one more after it (that one may have read the chain
   * before the payment the user is waiting for) and resolves when both are done.
   */
  async sync(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.syncing = true;
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          const network = this.network;
          const list = await api.btcSync(network);
          // The user may have switched networks meanwhile: those balances are not this page's.
          if (network !== this.network) continue;
          this.synced = Object.fromEntries(list.map((b) => [b.accountId, b]));
          await this.load();
        } while (this.#again);
      } finally {
        this.syncing = false;
        this.#running = null;
      }
    })();
    return this.#running;
  }

  get networkName(): string {
    return BTC_NETWORKS.find((n) => n.key === this.network)?.name ?? this.network;
  }
}

export const btc = new BtcState();
