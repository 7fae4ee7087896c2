// Limits of the update format, from the original Partisci documentation:
// "app, ver & host are limited to 50 unicode characters & instance is an
// integer 0-65535 (uint16)".

/** Longest app, ver or host, in Unicode characters (code points). */
export const MAX_FIELD_CHARS = 50;
/** Most labels an update may carry. */
export const MAX_LABELS = 16;
/** Longest label name, in bytes (names are [a-z0-9_.-]). */
export const MAX_LABEL_NAME = 32;
/** Longest label value, in Unicode characters (code points). */
export const MAX_LABEL_VALUE_CHARS = 64;
/** Largest instance number (uint16). */
export const MAX_INSTANCE = 65535;
/**
 * Largest UDP datagram we parse. A valid update is far smaller (three 50
 * character strings, even \u-escaped, fit in ~2 KiB); the margin is for
 * pretty-printed JSON. Larger datagrams are rejected as `oversize`.
 */
export const MAX_DATAGRAM_BYTES = 8192;
/** Largest HTTP update body; larger bodies get 413. */
export const MAX_HTTP_BODY_BYTES = 64 * 1024;
