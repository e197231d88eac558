// Turns whatever an IPC call rejected with into one typed error. Commands reject with the
// backend's AppError; Tauri itself rejects with a plain string when a call is malformed
// (unknown command, wrong argument types, denied by the ACL).
import type { AppError, ErrorKind } from "./bindings";

export class ApiError extends Error {
  readonly kind: ErrorKind;
  constructor(e: AppError) {
    super(e.message);
    this.name = "ApiError";
    this.kind = e.kind;
  }
}

function isAppError(e: unknown): e is AppError {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as { kind?: unknown }).kind === "string" &&
    typeof (e as { message?: unknown }).message === "string"
  );
}

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (isAppError(e)) return new ApiError(e);
  const message = typeof e === "string" ? e : e instanceof Error ? e.message : "Unknown error";
  return new ApiError({ kind: "internal", message });
}
