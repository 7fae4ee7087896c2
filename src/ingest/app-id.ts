// app_id: "a simplified form of app for use in referring to the application
// in the REST API": lowercased, every character outside [0-9a-z] replaced by
// "_". One output character per input character (code point), so app_id has
// as many characters as app.

const LOWER_ALNUM = /^[0-9a-z]$/;

export function appIdOf(app: string): string {
  let id = '';
  for (const ch of app) {
    // Like the original (Go's per-rune ToLower): some characters lowercase
    // to ASCII (KELVIN SIGN -> "k"); where JS lowercases to several code
    // points ("İ" -> "i" + U+0307) the first one stands for the character.
    const lower = String.fromCodePoint(ch.toLowerCase().codePointAt(0)!);
    id += LOWER_ALNUM.test(lower) ? lower : '_';
  }
  return id;
}

/**
 * The same mapping on ASCII bytes, writing into out at outOff; returns the
 * number of bytes written. Callers use it only when every byte is < 0x80.
 */
export function asciiAppIdInto(src: Uint8Array, start: number, end: number, out: Uint8Array, outOff: number): number {
  let o = outOff;
  for (let i = start; i < end; i++) {
    let c = src[i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39))) c = 0x5f;
    out[o++] = c;
  }
  return o - outOff;
}
