/**
 * How createStack gives a stack its control socket (config `control`): the
 * capture tap goes around the device when the stack is made, and the server
 * opens once the stack stands.
 *
 * @module
 */
import type { StackConfig } from "../api/config.ts";
import type { Stack } from "../api/stack.ts";
import type { Device } from "../device/device.ts";
import { CaptureTap } from "./capture.ts";
import { controlDir } from "./protocol.ts";
import { ControlServer } from "./server.ts";

/** The capture tap made for a stack, if any. */
export interface Capture {
  tap?: CaptureTap;
}

/** Wraps `device` in a capture tap when `c.control` is on (recorded in `capture`). */
export function tapForControl(c: StackConfig, device: Device, capture: Capture): Device {
  if (c.control === undefined || c.control === false) return device;
  capture.tap = new CaptureTap(device);
  return capture.tap;
}

/** Opens the control socket of `stack` when its config asks for one; closes the stack if that fails. */
export async function startControl(stack: Stack, capture: Capture): Promise<Stack> {
  const c = stack.config.control;
  if (c === undefined || c === false) return stack;
  const o = c === true ? {} : c;
  try {
    const server = await ControlServer.start(
      stack,
      { name: o.name ?? `luna-${process.pid}`, dir: o.dir ?? controlDir() },
      capture.tap,
    );
    stack._attachControl(server);
  } catch (e) {
    await stack.close(0).catch(() => {});
    throw e;
  }
  return stack;
}
