// The EVM network the Accounts and Send pages work on (remembered across runs), and the list
// of networks from the backend.
import { api, type EvmNetworkView } from "./api";

const KEY = "coldlink.evm.network";

class EvmState {
  networks = $state<EvmNetworkView[]>([]);
  network = $state<string>(localStorage.getItem(KEY) ?? "");
  #loaded = false;

  async load() {
    if (this.#loaded) return;
    this.#loaded = true;
    this.networks = await api.evmNetworks();
    if (!this.networks.some((n) => n.key === this.network)) {
      this.network = this.networks[0]?.key ?? "ethereum";
    }
  }

  async reload() {
    this.networks = await api.evmNetworks();
  }

  choose(key: string) {
    this.network = key;
    localStorage.setItem(KEY, key);
  }

  get current(): EvmNetworkView | undefined {
    return this.networks.find((n) => n.key === this.network);
  }
}

export const evm = new EvmState();
