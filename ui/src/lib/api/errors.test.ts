import { describe, expect, it } from "vitest";
import { ApiError, toApiError } from "./errors";

describe("toApiError", () => {
  it("keeps the backend's kind and message", () => {
    const e = toApiError({ kind: "wrongApp", message: "Open the Bitcoin app on the device" });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.kind).toBe("wrongApp");
    expect(e.message).toBe("Open the Bitcoin app on the device");
  });
  it("types Tauri's own string rejections instead of losing them", () => {
    const e = toApiError("invalid args `page` for command `frontend_ready`");
    expect(e.kind).toBe("internal");
    expect(e.message).toMatch(/invalid args/);
  });
  it("never throws on odd values", () => {
    expect(toApiError(undefined).message).toBe("Unknown error");
    expect(toApiError({ kind: 5 }).kind).toBe("internal");
    expect(toApiError(new Error("boom")).message).toBe("boom");
  });
});
