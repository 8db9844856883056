// RFC 6901 JSON Pointers for the patch paths: resource and annotation names hold "/" (and may
// hold "~"), which must be escaped in a path token.

export function escapeToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

export function pointer(...tokens: ReadonlyArray<string | number>): string {
  return tokens.map((t) => `/${escapeToken(String(t))}`).join("");
}
