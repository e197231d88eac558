import { describe, expect, it } from "vitest";
import { PAD_ROWS, pressCell } from "./pinpad";

describe("PIN pad", () => {
  it("is laid out like a numeric keypad", () => {
    expect(PAD_ROWS.map((r) => r.join(""))).toEqual(["789", "456", "123"]);
  });
  it("records positions 1-9 only, up to the limit", () => {
    expect(pressCell("", 7)).toBe("7");
    expect(pressCell("7", 0)).toBe("7");
    expect(pressCell("7", 10)).toBe("7");
    expect(pressCell("12", 3, 2)).toBe("12");
  });
});
