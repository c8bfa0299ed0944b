/**
 * Options of {@link trackingLink}.
 */
export interface TrackingLinkOptions {
  /** Sub-ID 1 (CATS PARA1), sent as `param1`. */
  sub1?: string;
  /** Sub-ID 2, sent as `param2`. */
  sub2?: string;
  /** Sub-ID 3, sent as `param3`. */
  sub3?: string;
  /** Sub-ID 4, sent as `param4`. */
  sub4?: string;
  /** Sub-ID 5, sent as `param5`. */
  sub5?: string;
  /**
   * Query parameters by name, for offers or publishers whose sub-ID
   * parameters are not named param1..param5 (e.g. `{ sid: "abc" }`), or to
   * pass anything else along. Added after sub1..sub5.
   */
  params?: Record<string, string | number>;
  /**
   * Where to send the person instead of the offer's landing URL (FC2's
   * `jump`): a path, or a URL on one of the offer's allowed hosts. Baton
   * refuses other hosts and uses the landing URL.
   */
  deepLink?: string;
}

/**
 * Builds the URL of a tracking link, `${baseUrl}/c/${linkId}`, with sub-IDs
 * and a deep link, every name and value URL-encoded. This is the URL a
 * publisher puts on its pages; following it records the click and redirects.
 *
 * @param baseUrl - where Baton runs, e.g. `"https://track.example.com"`.
 * @param linkId - the tracking link's ID (`TrackingLink.id`).
 *
 * @example
 * ```ts
 * trackingLink("https://track.example.com", "Ab3dE5", { sub1: "summer sale", deepLink: "/item/42" });
 * // "https://track.example.com/c/Ab3dE5?param1=summer%20sale&jump=%2Fitem%2F42"
 * ```
 */
export function trackingLink(baseUrl: string, linkId: string, options: TrackingLinkOptions = {}): string {
  if (typeof linkId !== "string" || linkId === "") {
    throw new TypeError("trackingLink: linkId is required");
  }
  const query: string[] = [];
  const add = (name: string, value: string | number | undefined) => {
    if (value !== undefined) {
      query.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
    }
  };
  const subs = [options.sub1, options.sub2, options.sub3, options.sub4, options.sub5];
  subs.forEach((value, i) => add(`param${i + 1}`, value));
  for (const [name, value] of Object.entries(options.params ?? {})) {
    add(name, value);
  }
  if (options.deepLink !== undefined && options.deepLink !== "") {
    add("jump", options.deepLink);
  }
  const url = `${baseUrl.replace(/\/+$/, "")}/c/${encodeURIComponent(linkId)}`;
  return query.length === 0 ? url : `${url}?${query.join("&")}`;
}
