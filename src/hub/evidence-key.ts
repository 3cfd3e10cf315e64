/** Items of different suites may share ids: the hub names an item `suite::item` wherever suites meet (rankings, routers). */
export const ITEM_SEPARATOR = "::";

export function hubItemId(suite: string, item: string): string {
  return `${suite}${ITEM_SEPARATOR}${item}`;
}

export function splitHubItemId(id: string): { suite: string; item: string } {
  const at = id.indexOf(ITEM_SEPARATOR);
  return at < 0 ? { suite: "", item: id } : { suite: id.slice(0, at), item: id.slice(at + ITEM_SEPARATOR.length) };
}
