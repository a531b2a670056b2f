/**
 * The client library: everything a program that talks to the daemon needs,
 * knowing nothing of the CLI or the service.
 *
 * - {@linkcode Client}: connect (requiring features), `request`, `subscribe`
 *   (events with their own bounded queue; with a snapshot), `attach`.
 * - {@linkcode SessionFeed}: the sessions followed live in a
 *   {@linkcode SessionTable}, reconnecting with back-off.
 * - The errors it throws, each reportable in one line.
 *
 * Starting a daemon when none answers is the CLI's `connectOrStart`; the
 * terminal side of attaching is `src/tui/attach.ts`; what a person reads
 * about a session is `src/session_view.ts`.
 *
 * @module
 */

export {
  type AttachEnd,
  type AttachOptions,
  type AttachStream,
  Client,
  type ConnectOptions,
  DEFAULT_EVENT_QUEUE,
  EventSubscription,
  type PushHandler,
  type Snapshot,
  type SubscribeParams,
} from "./client.ts";
export { type FeedOptions, type FeedUpdate, SessionFeed } from "./feed.ts";
export { type Applied, SessionTable } from "./sessions.ts";
export {
  ClientError,
  ConnectionLostError,
  DaemonError,
  EventsOverflowError,
  MissingFeaturesError,
  NoDaemonError,
  ProtocolMismatchError,
} from "./errors.ts";
