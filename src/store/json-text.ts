// JSON string content as stored (an app, a version, a host: the bytes
// between the quotes, escapes kept) as a JavaScript string. Most names
// have no escapes and are only decoded; the rest go through JSON.parse.

const utf8 = new TextDecoder();

export function jsonText(content: Uint8Array): string {
  const s = utf8.decode(content);
  return s.includes('\\') ? (JSON.parse(`"${s}"`) as string) : s;
}
