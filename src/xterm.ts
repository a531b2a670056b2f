/**
 * The headless terminal emulator (`@xterm/headless`), for the daemon's
 * screen worker and the CLI's text rendering, and what both read from its
 * buffers: a line as plain text or with its colours and attributes.
 *
 * @module
 */

// The package's "module" field names a file it does not ship, which bundlers
// follow; import its CommonJS entry ("main") by path instead.
// @ts-types="@xterm/headless/typings/xterm-headless.d.ts"
import xterm from "@xterm/headless/lib-headless/xterm-headless.js";
import type {
  IBuffer,
  IBufferCell,
  IBufferLine,
  IMarker,
  Terminal as TerminalType,
} from "@xterm/headless";

/** The emulator class (a CommonJS module: the class is a property of its default export). */
export const Terminal: typeof TerminalType = (xterm as unknown as { Terminal: typeof TerminalType })
  .Terminal;
/** An emulator instance. */
export type Terminal = TerminalType;
export type { IBuffer, IBufferCell, IBufferLine, IMarker };

/** Private modes that switch to the alternate screen (`CSI ? n h`) and back (`… l`). */
export const ALT_SCREEN_MODES: readonly number[] = [47, 1047, 1049];

/** Whether CSI parameters name one of {@linkcode ALT_SCREEN_MODES}. */
export function hasAltScreenMode(params: (number | number[])[]): boolean {
  return params.some((p) => typeof p === "number" && ALT_SCREEN_MODES.includes(p));
}

/**
 * Plain text of line `y` of `buf` ("" past the end): up to its last written
 * cell (spaces the program wrote at the end are kept, cells it never wrote
 * are not).
 */
export function lineText(buf: IBuffer, y: number): string {
  return buf.getLine(y)?.translateToString(true) ?? "";
}

function sgrColor(mode: "fg" | "bg", cell: IBufferCell): string {
  const base = mode === "fg" ? 30 : 40;
  const rgb = mode === "fg" ? cell.isFgRGB() : cell.isBgRGB();
  const palette = mode === "fg" ? cell.isFgPalette() : cell.isBgPalette();
  const n = mode === "fg" ? cell.getFgColor() : cell.getBgColor();
  if (rgb) return `${base + 8};2;${(n >> 16) & 255};${(n >> 8) & 255};${n & 255}`;
  if (palette) {
    if (n < 8) return String(base + n);
    if (n < 16) return String(base + 60 + n - 8);
    return `${base + 8};5;${n}`;
  }
  return String(base + 9);
}

/** The SGR parameters that select `cell`'s attributes from a reset state. */
function sgrOf(cell: IBufferCell): string {
  const p: string[] = [];
  if (cell.isBold()) p.push("1");
  if (cell.isDim()) p.push("2");
  if (cell.isItalic()) p.push("3");
  if (cell.isUnderline()) p.push("4");
  if (cell.isBlink()) p.push("5");
  if (cell.isInverse()) p.push("7");
  if (cell.isInvisible()) p.push("8");
  if (cell.isStrikethrough()) p.push("9");
  if (cell.isOverline()) p.push("53");
  if (!cell.isFgDefault()) p.push(sgrColor("fg", cell));
  if (!cell.isBgDefault()) p.push(sgrColor("bg", cell));
  return p.join(";");
}

/**
 * Line `y` of `buf` with its colours and attributes as SGR sequences, ending
 * in the default attributes; trailing blank cells with default attributes are
 * dropped.
 */
export function lineAnsi(buf: IBuffer, y: number): string {
  const line = buf.getLine(y);
  if (!line) return "";
  const cell = buf.getNullCell();
  // The last cell that shows something: a character, or a background or line.
  let end = line.length;
  while (end > 0) {
    const c = line.getCell(end - 1, cell)!;
    const ch = c.getChars();
    if ((ch !== "" && ch !== " ") || !c.isBgDefault() || c.isInverse() || c.isUnderline()) break;
    end--;
  }
  let out = "";
  let sgr = "";
  for (let x = 0; x < end; x++) {
    const c = line.getCell(x, cell)!;
    if (c.getWidth() === 0) continue; // the right half of a wide character
    const s = sgrOf(c);
    if (s !== sgr) {
      out += s === "" ? "\x1b[0m" : sgr === "" ? `\x1b[${s}m` : `\x1b[0;${s}m`;
      sgr = s;
    }
    out += c.getChars() || " ";
  }
  return sgr === "" ? out : out + "\x1b[0m";
}
