// Live device list shared by the header chip and the Devices page: one subscription to the
// backend's DevicesChanged event plus an initial fetch, so nothing is missed between them.
import { api, type DeviceList } from "./api";

class DeviceStore {
  list = $state<DeviceList>({ devices: [], warnings: [] });
  loaded = $state(false);
  error = $state<string | null>(null);
  #started = false;

  async start() {
    if (this.#started) return;
    this.#started = true;
    await api.onDevicesChanged((list) => {
      this.list = list;
      this.loaded = true;
      this.error = null;
    });
    try {
      this.list = await api.listDevices();
      this.loaded = true;
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
  }
}

export const devices = new DeviceStore();
