/**
 * Minimum-cost assignment (Hungarian method, shortest augmenting paths with potentials, O(n²m); the
 * Jonker–Volgenant family). Why not greedy: with faces that cross or crowd, greedy "best IoU first" can take a
 * pair that forces two worse ones; the optimum costs microseconds at face counts.
 *
 * Two modes:
 * - maxCost finite (gated, what trackers want): a pair may be matched only if its cost <= maxCost, and leaving a
 *   row or a column unmatched costs maxCost/2 each, so a pair is worth matching exactly when its cost is below
 *   maxCost. This is lapjv's `cost_limit` as ByteTrack uses it, solved on the (rows+cols)² matrix
 *   [[C, diag(maxCost/2)], [diag(maxCost/2), 0]]. Unlike "plain Hungarian with a big cost for gated pairs",
 *   it never trades one good match for two mediocre ones just to match more pairs.
 * - maxCost = Infinity: a complete assignment of min(rows, cols) pairs (the textbook problem); entries that are
 *   not finite are forbidden and come back unmatched.
 *
 * Scratch memory is kept in the instance and grows on demand, so a long-lived Assigner allocates nothing per
 * call once warmed up. Not re-entrant (synchronous use only).
 */

export class Assigner {
  #a = new Float64Array(0);
  #u = new Float64Array(0);
  #v = new Float64Array(0);
  #minv = new Float64Array(0);
  #p = new Int32Array(0);
  #way = new Int32Array(0);
  #used = new Uint8Array(0);

  /**
   * Solves the assignment for a row-major `rows`×`cols` cost matrix. Writes, for each row, the matched column
   * or -1 into `rowToCol` (length >= rows) and returns the number of matched pairs.
   */
  solve(cost: ArrayLike<number>, rows: number, cols: number, maxCost: number, rowToCol: Int32Array): number {
    rowToCol.fill(-1, 0, rows);
    if (rows === 0 || cols === 0) return 0;
    const gated = Number.isFinite(maxCost);
    // BIG must exceed any assignment made only of allowed entries, so the optimum never uses a forbidden one.
    let span = gated ? Math.abs(maxCost) : 0;
    for (let k = 0; k < rows * cols; k++) {
      const c = cost[k];
      if (Number.isFinite(c) && (!gated || c <= maxCost)) span = Math.max(span, Math.abs(c));
    }
    const N = gated ? rows + cols : Math.max(rows, cols);
    const big = (2 * span + 1) * (N + 1);
    const transpose = !gated && rows > cols;
    const n = gated ? N : Math.min(rows, cols);
    const m = N;
    this.#reserve(n, m);
    const a = this.#a;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let c: number;
        if (gated) {
          if (i < rows && j < cols) {
            const cc = cost[i * cols + j];
            c = Number.isFinite(cc) && cc <= maxCost ? cc : big;
          } else if (i < rows) c = j - cols === i ? maxCost / 2 : big;
          else if (j < cols) c = i - rows === j ? maxCost / 2 : big;
          else c = 0;
        } else {
          const cc = transpose ? cost[j * cols + i] : cost[i * cols + j];
          c = Number.isFinite(cc) ? cc : big;
        }
        a[i * m + j] = c;
      }
    }
    this.#hungarian(n, m);
    const p = this.#p;
    let matched = 0;
    for (let j = 1; j <= m; j++) {
      if (p[j] === 0) continue;
      const r = transpose ? j - 1 : p[j] - 1;
      const c = transpose ? p[j] - 1 : j - 1;
      if (r >= rows || c >= cols || a[(p[j] - 1) * m + (j - 1)] === big) continue;
      rowToCol[r] = c;
      matched++;
    }
    return matched;
  }

  #reserve(n: number, m: number): void {
    if (this.#a.length < n * m) this.#a = new Float64Array(n * m);
    if (this.#u.length < n + 1) this.#u = new Float64Array(n + 1);
    if (this.#v.length < m + 1) {
      this.#v = new Float64Array(m + 1);
      this.#minv = new Float64Array(m + 1);
      this.#p = new Int32Array(m + 1);
      this.#way = new Int32Array(m + 1);
      this.#used = new Uint8Array(m + 1);
    }
  }

  /** Hungarian on the n×m matrix in #a (n <= m); leaves the row (1-based, 0 = none) of each column j in p[j]. */
  #hungarian(n: number, m: number): void {
    const a = this.#a;
    const u = this.#u;
    const v = this.#v;
    const minv = this.#minv;
    const p = this.#p;
    const way = this.#way;
    const used = this.#used;
    u.fill(0, 0, n + 1);
    v.fill(0, 0, m + 1);
    p.fill(0, 0, m + 1);
    way.fill(0, 0, m + 1);
    for (let i = 1; i <= n; i++) {
      p[0] = i;
      let j0 = 0;
      minv.fill(Infinity, 0, m + 1);
      used.fill(0, 0, m + 1);
      do {
        used[j0] = 1;
        const i0 = p[j0];
        const row = (i0 - 1) * m;
        let delta = Infinity;
        let j1 = 0;
        for (let j = 1; j <= m; j++) {
          if (used[j]) continue;
          const cur = a[row + j - 1] - u[i0] - v[j];
          if (cur < minv[j]) {
            minv[j] = cur;
            way[j] = j0;
          }
          if (minv[j] < delta) {
            delta = minv[j];
            j1 = j;
          }
        }
        for (let j = 0; j <= m; j++) {
          if (used[j]) {
            u[p[j]] += delta;
            v[j] -= delta;
          } else minv[j] -= delta;
        }
        j0 = j1;
      } while (p[j0] !== 0);
      do {
        const j1 = way[j0];
        p[j0] = p[j1];
        j0 = j1;
      } while (j0 !== 0);
    }
  }
}

/**
 * Convenience wrapper for tests and offline tools: `cost[r][c]`, returns the matched column of each row or -1.
 * See Assigner.solve for the meaning of maxCost.
 */
export function linearAssignment(cost: readonly (readonly number[])[], maxCost = Infinity): number[] {
  const rows = cost.length;
  const cols = rows ? cost[0].length : 0;
  const flat = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) flat[r * cols + c] = cost[r][c];
  const out = new Int32Array(rows);
  new Assigner().solve(flat, rows, cols, maxCost, out);
  return Array.from(out);
}
