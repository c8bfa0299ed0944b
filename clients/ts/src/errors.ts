import { Code, ConnectError } from "@connectrpc/connect";

import { ViolationsSchema } from "./gen/buf/validate/validate_pb.js";

/**
 * The Connect error code of a failed call, as its name on the wire:
 * `"invalid_argument"`, `"unauthenticated"`, `"not_found"`, ...
 *
 * See https://connectrpc.com/docs/protocol#error-codes.
 */
export type BatonErrorCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

const codeNames: Record<Code, BatonErrorCode> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

/**
 * One field that failed validation, from the `buf.validate.Violations`
 * detail Baton attaches to `invalid_argument` errors.
 */
export interface FieldViolation {
  /**
   * Path of the offending field, protobuf field names joined with ".",
   * e.g. `"name"` or `"payout.percent_bps"`. Empty for a rule on the whole
   * message (such as "click_id or offer_id is required").
   */
  field: string;
  /** What is wrong, for people, e.g. "value length must be at least 1 characters". */
  message: string;
  /** Stable ID of the rule that failed, for programs, e.g. `"string.min_len"`. */
  ruleId: string;
}

/**
 * Options of the {@link BatonError} constructor.
 */
export interface BatonErrorOptions {
  /** The field violations; default none. */
  violations?: FieldViolation[];
  /** The underlying error, usually a `ConnectError`. */
  cause?: unknown;
}

/**
 * The error every call of a {@link BatonClient} rejects with.
 *
 * @example
 * ```ts
 * try {
 *   await baton.config.createPublisher({ name: "" });
 * } catch (err) {
 *   if (err instanceof BatonError && err.code === "invalid_argument") {
 *     for (const v of err.violations) console.log(`${v.field}: ${v.message}`);
 *   }
 * }
 * ```
 */
export class BatonError extends Error {
  override name = "BatonError";
  /** The Connect code name, e.g. `"invalid_argument"` or `"unauthenticated"`. */
  readonly code: BatonErrorCode;
  /** The server's message without the `[code]` prefix that {@link message} has. */
  readonly rawMessage: string;
  /** Fields that failed validation; empty unless {@link code} is `"invalid_argument"`. */
  readonly violations: FieldViolation[];

  /**
   * @param code - the Connect code name.
   * @param rawMessage - the message, without a code prefix.
   */
  constructor(code: BatonErrorCode, rawMessage: string, options: BatonErrorOptions = {}) {
    super(rawMessage ? `[${code}] ${rawMessage}` : `[${code}]`, { cause: options.cause });
    this.code = code;
    this.rawMessage = rawMessage;
    this.violations = options.violations ?? [];
  }
}

/**
 * Turns anything a call threw into a {@link BatonError}: a `ConnectError`
 * keeps its code, message and `buf.validate.Violations` details (as
 * {@link BatonError.violations}); any other value becomes `"unknown"` (or
 * `"canceled"` for an abort). A `BatonError` is returned as it is.
 *
 * The clients of {@link createBatonClient} already throw `BatonError`s; this
 * is for errors that reach you some other way, such as from a client built
 * directly with `@connectrpc/connect`.
 */
export function toBatonError(err: unknown): BatonError {
  if (err instanceof BatonError) {
    return err;
  }
  const ce = ConnectError.from(err);
  const violations: FieldViolation[] = [];
  for (const detail of ce.findDetails(ViolationsSchema)) {
    for (const v of detail.violations) {
      violations.push({
        field: (v.field?.elements ?? []).map((e) => e.fieldName).join("."),
        message: v.message,
        ruleId: v.ruleId,
      });
    }
  }
  return new BatonError(codeNames[ce.code] ?? "unknown", ce.rawMessage, { violations, cause: ce });
}
