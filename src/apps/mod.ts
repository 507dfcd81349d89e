/**
 * Servers over a luna stack, as the `luna serve` command runs them: `echo`,
 * `discard` and `http` (see each module). Each is an {@link App}:
 * `stack.listen(port, (c) => app.accept(c), { maxConnections: app.limits.maxConnections })`,
 * and `app.retry()` and `app.tick(now)` every few milliseconds. The apps defend
 * themselves against clients that hold connections and do nothing (guard.ts).
 *
 * @example
 * ```ts
 * import { createStack } from "../mod.ts";
 * import { createApp } from "./mod.ts";
 * const stack = await createStack({ device: "af_packet:luna0", address: "198.18.0.2/24" });
 * const app = createApp("http", stack.device.zone);
 * stack.listen(80, (c) => app.accept(c), { maxConnections: app.limits.maxConnections });
 * const timer = setInterval(() => { app.retry(); app.tick(performance.now()); }, 5);
 * await stack.run();
 * clearInterval(timer);
 * ```
 *
 * @module
 */
import type { MemZone } from "../mem/zone.ts";
import type { App } from "./app.ts";
import { discardApp } from "./discard.ts";
import { echoApp } from "./echo.ts";
import { type AppLimits, appLimitDefaults } from "./guard.ts";
import { httpApp } from "./http.ts";

export { type App, type AppStats } from "./app.ts";
export { discardApp } from "./discard.ts";
export { type AppLimits, appLimitDefaults } from "./guard.ts";
export { echoApp } from "./echo.ts";
export { httpApp, patternBytesMax } from "./http.ts";
export { fillPattern, patternBytes, patternSha256 } from "./pattern.ts";

/** The apps by name. */
export const appNames = ["echo", "http", "discard"] as const;
/** One of {@link appNames}. */
export type AppName = typeof appNames[number];

/** Makes the app called `name` over `zone`, with its timeouts and connection cap. */
export function createApp(name: AppName, zone: MemZone, limits: Readonly<AppLimits> = appLimitDefaults): App {
  switch (name) {
    case "echo":
      return echoApp(zone, limits);
    case "discard":
      return discardApp(limits);
    case "http":
      return httpApp(zone, limits);
  }
}
