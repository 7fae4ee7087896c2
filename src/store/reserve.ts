// Disk blocks reserved ahead of LMDB's writes (see native/reserve.cc for
// why): before a commit, the committer makes sure every block the commit may
// write is allocated, so a full disk is an error before the commit instead
// of a SIGBUS in the middle of it.

import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';

interface FsAddon {
  reserveFile(fd: number, end: number): boolean;
}

const require = createRequire(import.meta.url);

function load(): FsAddon {
  // dist/src/store/reserve.js and src/store/reserve.ts both sit below the package root.
  const candidates = ['../../build/Release/partisci_fs.node', '../../../build/Release/partisci_fs.node'];
  let lastError: unknown;
  for (const candidate of candidates) {
    try {
      return require(candidate) as FsAddon;
    } catch (err) {
      lastError = err;
    }
  }
  throw new Error(`the fs addon is not built (run npm install): ${String(lastError)}`);
}

const addon = load();

export class FileReservation {
  readonly #fd: number;
  /** Bytes from the file's start known to be allocated. */
  #reserved = 0;
  #supported = true;

  constructor(file: string) {
    this.#fd = openSync(file, 'r+');
  }

  /**
   * Allocates the file's blocks up to `end` bytes (cheap when they are).
   * Throws an error with code ENOSPC when the disk cannot hold them.
   */
  ensure(end: number): void {
    if (!this.#supported || end <= this.#reserved) return;
    // Reserve a little more than asked, so that small commits rarely call down.
    const target = Math.ceil((end + (8 << 20)) / (1 << 20)) * (1 << 20);
    try {
      this.#supported = addon.reserveFile(this.#fd, target);
      this.#reserved = target;
    } catch (err) {
      // The disk may not hold the margin: try the exact need before giving up.
      if (end < target && addon.reserveFile(this.#fd, end)) {
        this.#reserved = end;
        return;
      }
      throw err;
    }
  }

  close(): void {
    closeSync(this.#fd);
  }
}
