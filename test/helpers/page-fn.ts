/**
 * A string expression as a predicate function for Playwright's `page.waitForFunction`. Playwright re-evaluates a
 * string predicate with `eval` in the page, which facecast's Content-Security-Policy (script-src 'self', no
 * 'unsafe-eval') forbids once it polls; a function is sent over CDP instead. Kept as a string in the tests so
 * tsx's helpers (`__name`) never end up in page code.
 */
export function pageFn(expr: string): () => unknown {
  return new Function(`return (${expr});`) as () => unknown;
}
