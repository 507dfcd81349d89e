/**
 * Packet memory: zones of buffers addressed by integer handles.
 *
 * @module
 */
export { MemZone, type ZoneAccounting, type ZoneBackend, type ZoneLayout } from "./zone.ts";
export { createHeapZone, type HeapZoneOptions } from "./heap.ts";
