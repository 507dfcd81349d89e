/**
 * Hugepages for a test or a benchmark that runs a stack on them
 * (EalOptions.hugepages; the zero-copy memif test and bench configuration):
 * reserves the default-sized pages that are missing, and gives back what it
 * reserved. Needs root.
 *
 * @example
 * ```ts
 * import { reserveHugepages } from "./hugepages.ts";
 * const pages = reserveHugepages(256); // 512 MiB of 2 MiB pages free, or a thrown Error saying why not
 * try {
 *   // createStack({ ..., eal: { hugepages: true, memoryMb: 256 } })
 * } finally {
 *   pages.release();
 * }
 * ```
 *
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";

const nrPath = "/proc/sys/vm/nr_hugepages";

/** Free default-sized hugepages now, and their size in KiB. */
export function hugepagesFree(): { free: number; sizeKb: number } {
  const info = readFileSync("/proc/meminfo", "utf8");
  const free = Number(/^HugePages_Free:\s+(\d+)/m.exec(info)?.[1] ?? "0");
  const sizeKb = Number(/^Hugepagesize:\s+(\d+) kB/m.exec(info)?.[1] ?? "0");
  return { free, sizeKb };
}

/** What {@link reserveHugepages} reserved. */
export interface HugepageReservation {
  /** Pages this reservation added to the system's pool (0 when enough were free). */
  readonly added: number;
  /** Gives the added pages back (lowers nr_hugepages by them); once. */
  release(): void;
}

/**
 * Makes at least `pages` default-sized hugepages free, raising
 * /proc/sys/vm/nr_hugepages by what is missing.
 *
 * @throws {Error} the kernel has no hugepages, the process may not raise
 *   their number (not root), or the kernel could not find the memory
 */
export function reserveHugepages(pages: number): HugepageReservation {
  const { free, sizeKb } = hugepagesFree();
  if (sizeKb === 0) throw new Error("this kernel offers no hugepages (no Hugepagesize in /proc/meminfo)");
  const missing = Math.max(0, pages - free);
  let added = 0;
  if (missing > 0) {
    const before = Number(readFileSync(nrPath, "utf8").trim());
    try {
      writeFileSync(nrPath, String(before + missing));
    } catch (e) {
      throw new Error(
        `${pages} hugepages of ${sizeKb} KiB needed, ${free} free, and ${nrPath} cannot be raised ` +
          `(${(e as Error).message}): run as root, or reserve them first`,
      );
    }
    added = Number(readFileSync(nrPath, "utf8").trim()) - before;
  }
  let released = false;
  const reservation: HugepageReservation = {
    added,
    release() {
      if (released || added <= 0) return;
      released = true;
      const now = Number(readFileSync(nrPath, "utf8").trim());
      writeFileSync(nrPath, String(Math.max(0, now - added)));
    },
  };
  const after = hugepagesFree().free;
  if (after < pages) {
    reservation.release();
    throw new Error(
      `${pages} hugepages of ${sizeKb} KiB needed, only ${after} free after raising ${nrPath} ` +
        "(the kernel found no more memory for them)",
    );
  }
  return reservation;
}
