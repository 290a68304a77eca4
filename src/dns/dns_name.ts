/**
 * Domain names between their text form and their labels (RFC 1035 §2.3.1,
 * §3.1; RFC 4343 for case). In text a name is written without its final
 * dot (the root is `""`); a byte that is not printable ASCII, a dot or a
 * backslash inside a label is written `\DDD` (decimal) or `\.` / `\\`, as
 * zone files do, so any label survives a decode and an encode unchanged.
 *
 * @module
 */

/** The longest label, in bytes (RFC 1035 §2.3.4). */
export const MAX_LABEL_BYTES = 63;
/** The longest name on the wire, length bytes and the root's zero included (RFC 1035 §2.3.4). */
export const MAX_NAME_BYTES = 255;

/**
 * The labels of a name in text form, each as a string of byte values
 * (one character per byte, 0-255), or the reason it is not a name: an
 * empty label, a label over 63 bytes, a name over 255, a character outside
 * printable ASCII that is not escaped, a bad escape. A final dot is
 * allowed; `""` and `"."` are the root (no labels).
 */
export function nameLabels(name: string): string[] | string {
  const labels: string[] = [];
  if (name === "" || name === ".") return labels;
  let label = "";
  let wire = 1;
  const n = name.length;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c === 46) {
      if (label === "") return "it has an empty label";
      labels.push(label);
      wire += 1 + label.length;
      label = "";
      continue;
    }
    let byte = c;
    if (c === 92) {
      const d1 = name.charCodeAt(i + 1) - 48;
      if (d1 >= 0 && d1 <= 9) {
        const d2 = name.charCodeAt(i + 2) - 48;
        const d3 = name.charCodeAt(i + 3) - 48;
        if (!(d2 >= 0 && d2 <= 9 && d3 >= 0 && d3 <= 9)) return "a \\DDD escape needs three digits";
        byte = d1 * 100 + d2 * 10 + d3;
        if (byte > 255) return "a \\DDD escape is over 255";
        i += 3;
      } else {
        byte = name.charCodeAt(i + 1);
        if (!(byte >= 32 && byte <= 126)) return "a backslash must escape a printable character or three digits";
        i += 1;
      }
    } else if (c < 33 || c > 126) {
      return "it has a character that is not printable ASCII (escape it as \\DDD; IDN names go as punycode)";
    }
    if (label.length === MAX_LABEL_BYTES) return `a label is longer than ${MAX_LABEL_BYTES} bytes`;
    label += String.fromCharCode(byte);
  }
  if (label !== "") {
    labels.push(label);
    wire += 1 + label.length;
  }
  if (wire > MAX_NAME_BYTES) return `it is longer than ${MAX_NAME_BYTES} bytes on the wire`;
  return labels;
}

/** The wire form of a name (length-prefixed labels and the root's zero), uncompressed; a string when `name` is not a name. */
export function nameWire(name: string): Uint8Array | string {
  const labels = nameLabels(name);
  return typeof labels === "string" ? labels : labelsWire(labels);
}

/** The wire form of labels as {@linkcode nameLabels} gives them. */
export function labelsWire(labels: readonly string[]): Uint8Array {
  let size = 1;
  for (const l of labels) size += 1 + l.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const l of labels) {
    out[at++] = l.length;
    for (let i = 0; i < l.length; i++) out[at++] = l.charCodeAt(i);
  }
  return out;
}

/** Whether the byte may stand for itself in a name's text form. */
function plain(byte: number): boolean {
  return byte > 32 && byte < 127 && byte !== 46 && byte !== 92;
}

/** The text form of the label of `len` bytes at `start`, escaping what must be. */
export function labelText(bytes: Uint8Array, start: number, len: number): string {
  let text = "";
  for (let i = start; i < start + len; i++) {
    const b = bytes[i];
    if (plain(b)) text += String.fromCharCode(b);
    else if (b === 46 || b === 92) text += b === 46 ? "\\." : "\\\\";
    else text += b < 10 ? `\\00${b}` : b < 100 ? `\\0${b}` : `\\${b}`;
  }
  return text;
}

/** ASCII-only lowercase: DNS compares names without regard to ASCII case, and only ASCII (RFC 4343). */
export function lowerAscii(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) {
      // Names are short: a loop beats a regex replace with a callback (0x20 puts capitals in most of them).
      let out = text.slice(0, i);
      for (let j = i; j < text.length; j++) {
        const d = text.charCodeAt(j);
        out += d >= 65 && d <= 90 ? String.fromCharCode(d + 32) : text[j];
      }
      return out;
    }
  }
  return text;
}

/** The key a name is compared and stored by: ASCII lowercase, without its final dot. */
export function nameKey(name: string): string {
  return lowerAscii(hasFinalDot(name) ? name.slice(0, -1) : name);
}

/** Whether `name` ends in a dot that ends the name (not an escaped `\.` inside its last label). */
export function hasFinalDot(name: string): boolean {
  if (!name.endsWith(".")) return false;
  let slashes = 0;
  for (let i = name.length - 2; i >= 0 && name.charCodeAt(i) === 92; i--) slashes++;
  return slashes % 2 === 0;
}

/** Whether two names are the same name (RFC 4343: ASCII case does not count; a final dot neither). */
export function sameName(a: string, b: string): boolean {
  return a === b || nameKey(a) === nameKey(b);
}

/** How many dots separate labels in `name` (for ndots), escaped dots not counted. */
export function countDots(name: string): number {
  let dots = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 46 && i < name.length - 1) dots++;
  }
  return dots;
}
