// What both entry points (index.ts for Node, web.ts for browsers) export
// besides createBatonClient.

export { BatonError, toBatonError } from "./errors.js";
export type { BatonErrorCode, BatonErrorOptions, FieldViolation } from "./errors.js";
export { DEFAULT_TIMEOUT_MS } from "./client.js";
export type { BatonClient, BatonClientOptions, Protocol } from "./client.js";
export { trackingLink } from "./links.js";
export type { TrackingLinkOptions } from "./links.js";
export { fc2Sh } from "./fc2.js";
export type { Fc2ShFields, Fc2ShOptions } from "./fc2.js";
export { verifyWebhook, WebhookVerificationError } from "./webhooks.js";
export type {
  VerifiedWebhook,
  VerifyWebhookOptions,
  WebhookHeaders,
  WebhookVerificationFailure,
} from "./webhooks.js";
export {
  CLICK_ID_COOKIE,
  clickIdSetCookie,
  DEFAULT_CLICK_ID_WINDOW_SECONDS,
  isClickId,
  MAX_CLICK_ID_WINDOW_SECONDS,
  parseKeptClickId,
} from "./firstparty.js";
export type { ClickIdCookieOptions, ParseKeptClickIdOptions } from "./firstparty.js";
export { paginate } from "./paginate.js";
export type { PaginateOptions } from "./paginate.js";

// The generated messages, enums and service descriptors of baton.v1
// (protoc-gen-es), e.g. PostbackMethod, ConversionStatus, type Conversion,
// ConversionSchema. buf.validate lives at "@batonhq/client/gen/buf/validate/validate_pb".
export * from "./gen/baton/v1/attribution_pb.js";
export * from "./gen/baton/v1/click_pb.js";
export * from "./gen/baton/v1/common_pb.js";
export * from "./gen/baton/v1/config_pb.js";
export * from "./gen/baton/v1/conversion_pb.js";
export * from "./gen/baton/v1/postback_pb.js";
export * from "./gen/baton/v1/partners_pb.js";
