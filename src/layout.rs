/*!
The layout of one tab: a binary tree of splits with panes at the leaves.

The tree is saved state (`fieldkit-messages::saved`); this file is its geometry. Pure, no panes: every operation takes pane ids and rectangles, so it is tested
exhaustively here. Each split keeps the first child's share in permille, which survives
resizes of the terminal without drifting. Every pane draws its own border, so a pane's
rectangle includes it.
*/

use fieldkit_panes::Dir;
use ratatui::layout::Rect;

pub use fieldkit_messages::saved::{Axis, Node, PaneId};

/// Smallest share either side of a split keeps when resizing, in cells.
const MIN_CELLS: u16 = 3;

/// The geometry of a layout tree (the tree itself is saved state, in `fieldkit-messages`).
pub trait Geometry {
    /// Each pane's rectangle inside `area`.
    fn rects(&self, area: Rect) -> Vec<(PaneId, Rect)>;
    /// Moves the border nearest `target` in direction `dir` by `cells`. Returns whether
    /// anything moved.
    fn resize(&mut self, area: Rect, target: PaneId, dir: Dir, cells: u16) -> bool;
}

impl Geometry for Node {
    fn rects(&self, area: Rect) -> Vec<(PaneId, Rect)> {
        let mut out = Vec::new();
        place(self, area, &mut out);
        out
    }

    fn resize(&mut self, area: Rect, target: PaneId, dir: Dir, cells: u16) -> bool {
        let want = match dir {
            Dir::Left | Dir::Right => Axis::Horizontal,
            Dir::Up | Dir::Down => Axis::Vertical,
        };
        let grow = matches!(dir, Dir::Right | Dir::Down);
        resize_inner(self, area, target, want, grow, cells)
    }
}

fn place(node: &Node, area: Rect, out: &mut Vec<(PaneId, Rect)>) {
    match node {
        Node::Leaf(id) => out.push((*id, area)),
        Node::Split {
            axis,
            ratio,
            first,
            second,
        } => {
            let (a, b) = divide(area, *axis, *ratio);
            place(first, a, out);
            place(second, b, out);
        }
    }
}

fn resize_inner(
    node: &mut Node,
    area: Rect,
    target: PaneId,
    want: Axis,
    grow: bool,
    cells: u16,
) -> bool {
    let Node::Split {
        axis,
        ratio,
        first,
        second,
    } = node
    else {
        return false;
    };
    let (a, b) = divide(area, *axis, *ratio);
    let in_first = first.contains(target);
    if !in_first && !second.contains(target) {
        return false;
    }
    // The nearest split of the right axis wins: look deeper first.
    let deeper = if in_first {
        resize_inner(first, a, target, want, grow, cells)
    } else {
        resize_inner(second, b, target, want, grow, cells)
    };
    if deeper || *axis != want {
        return deeper;
    }
    let total = match axis {
        Axis::Horizontal => area.width,
        Axis::Vertical => area.height,
    };
    if total < 2 * MIN_CELLS {
        return false;
    }
    let cur = match axis {
        Axis::Horizontal => a.width,
        Axis::Vertical => a.height,
    } as i32;
    let next = if grow {
        cur + cells as i32
    } else {
        cur - cells as i32
    };
    let next = next.clamp(MIN_CELLS as i32, (total - MIN_CELLS) as i32);
    if next == cur {
        return false;
    }
    *ratio = ((next as u32 * 1000 + total as u32 / 2) / total as u32).clamp(1, 999) as u16;
    // Rounding must land on `next` exactly, or a 1-cell resize could do nothing.
    let (na, _) = divide(area, *axis, *ratio);
    let got = match axis {
        Axis::Horizontal => na.width,
        Axis::Vertical => na.height,
    } as i32;
    if got != next {
        *ratio = ((next as u32 * 1000).div_ceil(total as u32)).clamp(1, 999) as u16;
    }
    true
}

/// Splits `area` along `axis`, the first part taking `ratio` permille (at least 1 cell each
/// side when there is room for both).
pub fn divide(area: Rect, axis: Axis, ratio: u16) -> (Rect, Rect) {
    let total = match axis {
        Axis::Horizontal => area.width,
        Axis::Vertical => area.height,
    };
    let mut first = (total as u32 * ratio as u32 / 1000) as u16;
    if total >= 2 {
        first = first.clamp(1, total - 1);
    } else {
        first = first.min(total);
    }
    match axis {
        Axis::Horizontal => (
            Rect::new(area.x, area.y, first, area.height),
            Rect::new(area.x + first, area.y, total - first, area.height),
        ),
        Axis::Vertical => (
            Rect::new(area.x, area.y, area.width, first),
            Rect::new(area.x, area.y + first, area.width, total - first),
        ),
    }
}

/// The pane next to `from` in direction `dir`: the nearest whose span overlaps `from`'s on
/// the other axis, ties to the one with the largest overlap, then the earliest in layout order.
pub fn neighbor(rects: &[(PaneId, Rect)], from: PaneId, dir: Dir) -> Option<PaneId> {
    let (_, r) = rects.iter().find(|(id, _)| *id == from)?;
    let overlap = |a0: u16, a1: u16, b0: u16, b1: u16| a1.min(b1) as i32 - a0.max(b0) as i32;
    rects
        .iter()
        .filter(|(id, _)| *id != from)
        .filter_map(|(id, o)| {
            let (gap, ov) = match dir {
                Dir::Left => (
                    r.x as i32 - o.right() as i32,
                    overlap(r.y, r.bottom(), o.y, o.bottom()),
                ),
                Dir::Right => (
                    o.x as i32 - r.right() as i32,
                    overlap(r.y, r.bottom(), o.y, o.bottom()),
                ),
                Dir::Up => (
                    r.y as i32 - o.bottom() as i32,
                    overlap(r.x, r.right(), o.x, o.right()),
                ),
                Dir::Down => (
                    o.y as i32 - r.bottom() as i32,
                    overlap(r.x, r.right(), o.x, o.right()),
                ),
            };
            (gap >= 0 && ov > 0).then_some((gap, -ov, *id))
        })
        .min_by_key(|(gap, ov, _)| (*gap, *ov))
        .map(|(_, _, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Node {
        // 1 | (2 / 3)
        let mut n = Node::Leaf(1);
        assert!(n.split(1, 2, Axis::Horizontal));
        assert!(n.split(2, 3, Axis::Vertical));
        n
    }

    #[test]
    fn split_places_and_orders() {
        let n = three();
        assert_eq!(n.leaves(), vec![1, 2, 3]);
        let r = n.rects(Rect::new(0, 0, 80, 24));
        assert_eq!(r[0], (1, Rect::new(0, 0, 40, 24)));
        assert_eq!(r[1], (2, Rect::new(40, 0, 40, 12)));
        assert_eq!(r[2], (3, Rect::new(40, 12, 40, 12)));
        assert!(!Node::Leaf(1).clone().split(9, 10, Axis::Vertical));
    }

    #[test]
    fn remove_promotes_the_sibling() {
        let mut n = three();
        assert!(n.remove(2));
        assert_eq!(n.leaves(), vec![1, 3]);
        assert!(n.remove(1));
        assert_eq!(n, Node::Leaf(3));
        assert!(!n.remove(3), "the last pane stays");
        assert!(!n.remove(42));
    }

    #[test]
    fn neighbours_by_direction() {
        let n = three();
        let r = n.rects(Rect::new(0, 0, 80, 24));
        assert_eq!(neighbor(&r, 1, Dir::Right), Some(2));
        assert_eq!(neighbor(&r, 3, Dir::Left), Some(1));
        assert_eq!(neighbor(&r, 2, Dir::Down), Some(3));
        assert_eq!(neighbor(&r, 3, Dir::Up), Some(2));
        assert_eq!(neighbor(&r, 1, Dir::Left), None);
        assert_eq!(neighbor(&r, 1, Dir::Up), None);
    }

    #[test]
    fn resize_moves_the_nearest_border_and_clamps() {
        let area = Rect::new(0, 0, 80, 24);
        let mut n = three();
        assert!(n.resize(area, 2, Dir::Left, 5));
        assert_eq!(n.rects(area)[0].1.width, 35);
        assert!(n.resize(area, 2, Dir::Down, 1));
        assert_eq!(n.rects(area)[1].1.height, 13);
        assert!(n.resize(area, 1, Dir::Right, 1));
        assert_eq!(
            n.rects(area)[0].1.width,
            36,
            "one cell moves exactly one cell"
        );
        for _ in 0..100 {
            n.resize(area, 1, Dir::Right, 7);
        }
        assert_eq!(n.rects(area)[0].1.width, 80 - MIN_CELLS);
        assert!(!Node::Leaf(1).resize(area, 1, Dir::Left, 1));
    }

    #[test]
    fn swap_and_tiny_areas_never_panic() {
        let mut n = three();
        n.swap(1, 3);
        assert_eq!(n.leaves(), vec![3, 2, 1]);
        for (w, h) in [(0, 0), (1, 1), (2, 1), (1, 5), (500, 200)] {
            let rects = n.rects(Rect::new(0, 0, w, h));
            let area: u32 = rects
                .iter()
                .map(|(_, r)| r.width as u32 * r.height as u32)
                .sum();
            assert_eq!(area, w as u32 * h as u32, "{w}x{h} is tiled exactly");
            for (id, _) in &rects {
                for d in [Dir::Left, Dir::Right, Dir::Up, Dir::Down] {
                    let _ = neighbor(&rects, *id, d);
                    let _ = n.clone().resize(Rect::new(0, 0, w, h), *id, d, 3);
                }
            }
        }
    }
}
