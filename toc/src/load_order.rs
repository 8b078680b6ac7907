//! The order rows load in: a table before the tables whose foreign keys reference it, so that a
//! `--data-only` script loads into tables whose keys are already in place. Tables in a cycle of
//! references keep the dump's order among themselves (no order satisfies them; the loader has to
//! defer or disable the checks).

/// Positions `0..n` ordered so that for every edge `(child, parent)` the parent comes first where
/// the edges allow it: at each step the first position (in the given order) whose parents are all
/// placed, or, when a cycle leaves none, the first one left.
pub fn parents_first(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        // The first table (in the given order) whose parents are all placed; in a cycle, the first
        // left.
        let ready = (0..n).find(|&t| !placed[t] && edges.iter().all(|&(c, p)| c != t || p == t || placed[p]));
        let next = ready.unwrap_or_else(|| (0..n).find(|&t| !placed[t]).expect("a table is left"));
        placed[next] = true;
        order.push(next);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_come_first_and_the_rest_keeps_its_order() {
        // 0 order_items -> 1 orders -> 3 customers; 0 -> 2 products.
        assert_eq!(parents_first(4, &[(0, 1), (0, 2), (1, 3)]), vec![2, 3, 1, 0]);
        assert_eq!(parents_first(3, &[]), vec![0, 1, 2]);
        // A table that is ready goes before a cycle, which keeps the given order among itself; a
        // self-reference is no dependency.
        assert_eq!(parents_first(3, &[(0, 1), (1, 0), (2, 2)]), vec![2, 0, 1]);
    }
}
