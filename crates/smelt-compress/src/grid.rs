//! Parameter grids (see `smelt_ops::quant::packed`): which cell each weight element uses,
//! walked as runs of consecutive elements that share a cell.

/// Where the last-dim rows of a `shape` weight find their cells on `grid`.
pub struct Cells {
    shape: Vec<usize>,
    block: Vec<usize>,
    gstrides: Vec<usize>,
}

impl Cells {
    pub fn new(shape: &[usize], grid: &[usize]) -> Cells {
        Cells {
            shape: shape.to_vec(),
            block: shape
                .iter()
                .zip(grid)
                .map(|(s, g)| (s / g).max(1))
                .collect(),
            gstrides: smelt_core::tensor::strides(grid),
        }
    }

    /// For last-dim row `row`: the cell of its first element and the run length
    /// (`shape[r-1] / grid[r-1]`); the row's b-th run uses cell `base + b`.
    pub fn row(&self, row: usize) -> (usize, usize) {
        let r = self.shape.len();
        let mut rem = row;
        let mut base = 0;
        for d in (0..r - 1).rev() {
            let i = rem % self.shape[d];
            rem /= self.shape[d];
            base += (i / self.block[d]) * self.gstrides[d];
        }
        (base, self.block[r - 1])
    }
}

/// [`Cells::row`] for one row.
pub fn row_cells(shape: &[usize], grid: &[usize], row: usize) -> (usize, usize) {
    Cells::new(shape, grid).row(row)
}

/// Calls `f(start, len, cell)` for every run of consecutive elements (row-major) of a
/// `shape` weight that share a cell of `grid` (each `grid[d]` divides `shape[d]`).
pub fn for_each_run(shape: &[usize], grid: &[usize], mut f: impl FnMut(usize, usize, usize)) {
    let r = shape.len();
    let last = shape[r - 1];
    if last == 0 || shape.contains(&0) {
        return;
    }
    let block: Vec<usize> = shape.iter().zip(grid).map(|(s, g)| s / g).collect();
    let gstrides = smelt_core::tensor::strides(grid);
    let rows: usize = shape[..r - 1].iter().product();
    let bl = block[r - 1];
    for row in 0..rows {
        let mut rem = row;
        let mut base = 0;
        for d in (0..r - 1).rev() {
            let i = rem % shape[d];
            rem /= shape[d];
            base += (i / block[d]) * gstrides[d];
        }
        for b in 0..last / bl {
            f(row * last + b * bl, bl, base + b);
        }
    }
}

/// The cell of every element, as lists of runs per cell: `runs[cell]` = (start, len) pairs.
pub fn runs_by_cell(shape: &[usize], grid: &[usize]) -> Vec<Vec<(usize, usize)>> {
    let cells: usize = grid.iter().product();
    let mut out = vec![Vec::new(); cells];
    for_each_run(shape, grid, |s, l, c| out[c].push((s, l)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_every_element_once_in_the_right_cell() {
        let shape = [4, 6, 3];
        let grid = [2, 3, 1];
        let mut seen = vec![usize::MAX; 72];
        for_each_run(&shape, &grid, |s, l, c| {
            for e in s..s + l {
                assert_eq!(seen[e], usize::MAX);
                seen[e] = c;
            }
        });
        for (e, &c) in seen.iter().enumerate() {
            let (i0, i1) = (e / 18, (e / 3) % 6);
            assert_eq!(c, (i0 / 2) * 3 + i1 / 2, "element {e}");
        }
    }
}
