//! Aligned text tables for the summary and the operator CLI.

/// Renders `rows` under `headers`, columns separated by two spaces; a column whose cells are
/// all numbers is right-aligned.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let columns = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    let mut numeric = vec![true; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
            numeric[i] &= cell.is_empty() || cell.parse::<f64>().is_ok();
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut out = String::new();
        for (i, cell) in cells.enumerate().take(columns) {
            if i > 0 {
                out.push_str("  ");
            }
            let pad = widths[i].saturating_sub(cell.chars().count());
            if numeric[i] {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(&mut headers.iter().copied());
    out.push('\n');
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_left_numbers_right() {
        let out = render(
            &["seller", "orders"],
            &[
                vec!["A1".into(), "7".into()],
                vec!["A2SELLER".into(), "120".into()],
            ],
        );
        assert_eq!(
            out,
            "seller    orders\nA1             7\nA2SELLER     120\n"
        );
    }
}
