import type { CallOptions } from "@connectrpc/connect";

/** Options of {@link paginate}. */
export interface PaginateOptions extends CallOptions {
  /** Stop after this many pages, as a guard; default no limit. */
  maxPages?: number;
}

/** The element type of the array under key K of a response, or never. */
type ItemOf<Res, K extends keyof Res> = Res[K] extends readonly (infer T)[] ? T : never;

/** The keys of Res that hold arrays (the list fields of a List response). */
type ListKey<Res> = { [K in keyof Res]-?: Res[K] extends readonly unknown[] ? K : never }[keyof Res];

/**
 * Iterates over every item of a List call, page after page, following
 * `nextPageToken` until it is empty. Pages are fetched one at a time, as
 * the loop asks for more; stop early with `break`.
 *
 * @param list - a List method of a client, e.g. `baton.clicks.listClicks`.
 * @param request - the first request (filters and `pageSize`); its `pageToken` is replaced.
 * @param itemsKey - the response field with the items, e.g. `"clicks"`.
 * @param options - call options for every page (`signal`, `timeoutMs`, `headers`), and `maxPages`.
 *
 * @example
 * ```ts
 * for await (const click of paginate(baton.clicks.listClicks, { linkId, pageSize: 100 }, "clicks")) {
 *   console.log(click.id);
 * }
 * ```
 */
export async function* paginate<Req extends { pageToken?: string }, Res extends { nextPageToken: string }, K extends ListKey<Res>>(
  list: (request: Req, options?: CallOptions) => Promise<Res>,
  request: Req,
  itemsKey: K,
  options: PaginateOptions = {},
): AsyncGenerator<ItemOf<Res, K>, void, undefined> {
  const { maxPages = Infinity, ...callOptions } = options;
  let pageToken = request.pageToken ?? "";
  for (let page = 0; page < maxPages; page++) {
    const res = await list({ ...request, pageToken }, callOptions);
    const items = res[itemsKey];
    if (!Array.isArray(items)) {
      throw new TypeError(`paginate: the response has no list field ${JSON.stringify(String(itemsKey))}`);
    }
    yield* items as ItemOf<Res, K>[];
    if (res.nextPageToken === "" || res.nextPageToken === pageToken) {
      return;
    }
    pageToken = res.nextPageToken;
  }
}
