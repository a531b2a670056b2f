/**
 * What a person reads about a session, derived from its record alone, so
 * that every place that shows it (`ls`, `send`, `watch`, notifications) says
 * the same thing.
 *
 * @module
 */

import type { WaitingFor } from "./protocol.ts";

/** "permission to use Bash: touch x", "an answer: …", "the folder-trust question". */
export function describeWait(w: WaitingFor | null | undefined): string {
  if (!w) return "the user";
  switch (w.kind) {
    case "permission":
      return `permission${w.tool ? ` to use ${w.tool}` : ""}${w.input ? `: ${w.input}` : ""}`;
    case "question":
      return `an answer${w.message ? `: ${w.message}` : ""}`;
    case "folder_trust":
      return "the folder-trust question";
    default:
      return w.message ?? "the user";
  }
}
