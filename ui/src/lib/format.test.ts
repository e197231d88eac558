import { describe, expect, it } from "vitest";
import { appText, connectionText, deviceChipLabel, groupAddress, stateText } from "./format";
import type { DeviceDescriptor } from "./api";

const ledger: DeviceDescriptor = {
  id: "speculos:127.0.0.1:9999",
  vendor: "ledger",
  model: "ledgerUnknown",
  modelName: "Ledger emulator (Speculos)",
  connection: "speculosTcp",
  usb: null,
  product: null,
  state: "available",
  fingerprint: null,
  app: null,
  appVersion: null,
  emulated: true,
};

describe("groupAddress", () => {
  it("splits into fours and keeps the remainder", () => {
    expect(groupAddress("bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh")).toEqual([
      "bc1q", "xy2k", "gdyg", "jrsq", "tzq2", "n0yr", "f249", "3p83", "kkfj", "hx0w", "lh",
    ]);
    expect(groupAddress("")).toEqual([]);
    expect(groupAddress("abcd").join(" ")).toBe("abcd");
  });
});

describe("deviceChipLabel", () => {
  it("names one device and counts several", () => {
    expect(deviceChipLabel([])).toBe("No device");
    expect(deviceChipLabel([ledger])).toBe("Ledger emulator (Speculos)");
    expect(deviceChipLabel([ledger, { ...ledger, id: "x" }])).toBe("2 devices");
  });
});

describe("stateText", () => {
  it("tells the user what to do when a device cannot be used", () => {
    expect(stateText("available").hint).toBeNull();
    expect(stateText("noPermission").hint).toMatch(/udev/);
    expect(stateText("busy").hint).toMatch(/Ledger Live|Trezor Suite/);
    expect(stateText("locked").hint).toMatch(/PIN/);
  });
});

describe("appText", () => {
  it("names the open app, the dashboard, or nothing while locked", () => {
    expect(appText({ ...ledger, app: "Bitcoin", appVersion: "2.1.3" })).toBe("Bitcoin 2.1.3");
    expect(appText(ledger)).toMatch(/dashboard/);
    expect(appText({ ...ledger, state: "locked", app: "Bitcoin" })).toBeNull();
    expect(appText({ ...ledger, vendor: "trezor" })).toBeNull();
  });
});

describe("connectionText", () => {
  it("shows where an emulator listens", () => {
    expect(connectionText(ledger)).toBe("Emulator at 127.0.0.1:9999");
    expect(connectionText({ ...ledger, connection: "usbHid" })).toBe("USB");
  });
});

import { sectionFromHash } from "./nav";

describe("sectionFromHash", () => {
  it("falls back to the portfolio for unknown hashes", () => {
    expect(sectionFromHash("#/devices")).toBe("devices");
    expect(sectionFromHash("#compare")).toBe("compare");
    expect(sectionFromHash("#/nope")).toBe("portfolio");
    expect(sectionFromHash("")).toBe("portfolio");
  });
});
