/**
 * The in-memory link: two endpoints joined by a virtual-time wire with delay,
 * bandwidth and a queue limit; see {@link createMemoryLink}.
 *
 * @module
 */
export {
  createMemoryLink,
  LinkCounters,
  type LinkDirectionOptions,
  MemoryEndpoint,
  type MemoryLinkOptions,
} from "./link.ts";
