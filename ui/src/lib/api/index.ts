// The UI's only door to the backend. Commands and events are generated from Rust
// (bindings.ts); this module unwraps their results so pages deal in values and typed errors.
import { commands, events, type AppError, type DeviceList, type AppInfo } from "./bindings";

export type { AppError, AppInfo, DeviceList };
export type { DeviceDescriptor, DeviceState, EmulatorSetting, ErrorKind } from "./bindings";

/** Thrown by the helpers below; carries the backend's stable error kind. */
export class ApiError extends Error {
  readonly kind: AppError["kind"];
  constructor(e: AppError) {
    super(e.message);
    this.kind = e.kind;
  }
}

type Result<T> = { status: "ok"; data: T } | { status: "error"; error: AppError };

function unwrap<T>(r: Result<T>): T {
  if (r.status === "error") throw new ApiError(r.error);
  return r.data;
}

export const api = {
  appInfo: async () => unwrap(await commands.appInfo()),
  listDevices: async () => unwrap(await commands.listDevices()),
  frontendReady: async (page: string) => unwrap(await commands.frontendReady(page)),
  /** Calls `handler` with every new device list; returns the unsubscribe function. */
  onDevicesChanged: (handler: (list: DeviceList) => void) =>
    events.devicesChanged.listen((e) => handler(e.payload.list)),
};
