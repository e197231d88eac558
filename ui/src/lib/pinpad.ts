// The PIN pad's layout: Trezor One and KeepKey number the cells of their scrambled 3×3 pad
// like a numeric keypad (7 8 9 on top, 1 2 3 at the bottom). The app's pad is blank; the user
// clicks where the device shows each digit, and only those positions ever leave the app.

/** Cell positions, row by row from the top. */
export const PAD_ROWS: readonly (readonly number[])[] = [
  [7, 8, 9],
  [4, 5, 6],
  [1, 2, 3],
];

/** Appends one clicked position, keeping at most `max` (the devices accept 50). */
export function pressCell(positions: string, cell: number, max = 50): string {
  if (!Number.isInteger(cell) || cell < 1 || cell > 9 || positions.length >= max) return positions;
  return positions + String(cell);
}
