/**
 * Field checks for incoming requests; each failure is a `bad_request`
 * naming the field.
 *
 * @module
 */

import { ProtocolError } from "../protocol.ts";

type Msg = Record<string, unknown>;

function bad(key: string, what: string): never {
  throw new ProtocolError("bad_request", `"${key}" must be ${what}`);
}

/** A required non-empty string. */
export function str(m: Msg, key: string): string {
  const v = m[key];
  if (typeof v !== "string" || v.length === 0) bad(key, "a non-empty string");
  return v;
}

/** An optional string. */
export function optStr(m: Msg, key: string): string | undefined {
  const v = m[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") bad(key, "a string");
  return v;
}

/** An optional boolean. */
export function optBool(m: Msg, key: string): boolean | undefined {
  const v = m[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") bad(key, "true or false");
  return v;
}

/** An optional integer within bounds. */
export function optInt(m: Msg, key: string, min: number, max: number): number | undefined {
  const v = m[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    bad(key, `an integer from ${min} to ${max}`);
  }
  return v;
}

/** An optional number within bounds. */
export function optNum(m: Msg, key: string, min: number, max: number): number | undefined {
  const v = m[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    bad(key, `a number from ${min} to ${max}`);
  }
  return v;
}

/** An optional array of strings. */
export function optStrArray(m: Msg, key: string): string[] | undefined {
  const v = m[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) bad(key, "an array of strings");
  return v as string[];
}

/** A required object whose values are all strings. */
export function strRecord(m: Msg, key: string): Record<string, string> {
  const v = m[key];
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    bad(key, "an object of strings");
  }
  for (const x of Object.values(v as Record<string, unknown>)) {
    if (typeof x !== "string") bad(key, "an object of strings");
  }
  return v as Record<string, string>;
}
