// Display helpers shared by pages. Pure functions, unit-tested.
import type { DeviceDescriptor, DeviceState } from "./api";

/** Splits an address into groups of four so it can be compared with a device screen by eye. */
export function groupAddress(address: string): string[] {
  const groups: string[] = [];
  for (let i = 0; i < address.length; i += 4) groups.push(address.slice(i, i + 4));
  return groups;
}

/** One-line summary for the header chip. */
export function deviceChipLabel(devices: DeviceDescriptor[]): string {
  if (devices.length === 0) return "No device";
  if (devices.length === 1) return devices[0]?.modelName ?? "1 device";
  return `${devices.length} devices`;
}

/** What a device's state means for the user, and what to do about it. */
export function stateText(state: DeviceState): { label: string; hint: string | null } {
  switch (state) {
    case "available":
      return { label: "Connected", hint: null };
    case "noPermission":
      return {
        label: "No permission",
        hint: "Linux blocks access: install Coldlink's udev rules, then unplug and re-plug the device.",
      };
    case "busy":
      return {
        label: "In use by another program",
        hint: "Close Ledger Live, Trezor Suite or Trezor Bridge, then try again.",
      };
    case "locked":
      return { label: "Locked", hint: "Unlock the device with its PIN." };
  }
}

/** Which app is open, for people ("Bitcoin 2.1.3", or the dashboard). */
export function appText(d: DeviceDescriptor): string | null {
  if (d.state === "locked") return null;
  if (d.app) return d.appVersion ? `${d.app} ${d.appVersion}` : d.app;
  return d.vendor === "ledger" ? "None (dashboard): open the Bitcoin or Ethereum app" : null;
}

/** How the device is reached, for people. */
export function connectionText(d: DeviceDescriptor): string {
  switch (d.connection) {
    case "usbHid":
      return "USB";
    case "webUsb":
      return "USB (WebUSB)";
    case "speculosTcp":
      return `Emulator at ${d.id.replace(/^speculos:/, "")}`;
    case "trezorEmulatorUdp":
      return `Emulator at ${d.id.replace(/^trezor-emu:/, "")}`;
  }
}
