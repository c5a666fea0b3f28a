//! Columns that fit the terminal: every column as wide as its widest cell, the last one that fits
//! wrapped to what is left of the line, and the columns that do not fit at all written under each
//! row as `Header: value` lines, so that a narrow terminal loses no column.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::wrap::wrap;

/// Below this, a wrapped column is a stack of single words: better moved under the row.
const MIN_WRAPPED: usize = 24;
const GAP: &str = "  ";
/// Where the columns moved under a row start.
const BELOW: &str = "    ";

pub struct Grid {
    pub headers: Vec<String>,
    /// Cells may hold several lines (`\n`).
    pub rows: Vec<Vec<String>>,
}

fn natural(cell: &str) -> usize {
    cell.lines().map(UnicodeWidthStr::width).max().unwrap_or(0)
}

fn pad(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(text.width())))
}

impl Grid {
    /// How many columns fit on the line, and the room left for the last of them.
    fn layout(&self, width: usize) -> (usize, usize) {
        let n = self.headers.len();
        let nat: Vec<usize> = (0..n)
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| natural(&r[i]))
                    .chain([self.headers[i].width()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for k in (1..=n).rev() {
            let fixed: usize = nat[..k - 1].iter().sum::<usize>() + GAP.len() * (k - 1);
            let room = width.saturating_sub(fixed);
            if room >= nat[k - 1].min(MIN_WRAPPED) {
                return (k, room.min(nat[k - 1]));
            }
        }
        (1, width)
    }

    pub fn write(
        &self,
        out: &mut dyn Write,
        width: usize,
        bold: impl Fn(&str) -> String,
    ) -> io::Result<()> {
        let (k, room) = self.layout(width);
        let widths: Vec<usize> = (0..k - 1)
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| natural(&r[i]))
                    .chain([self.headers[i].width()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<Vec<String>>| -> Vec<String> {
            let height = cells.iter().map(Vec::len).max().unwrap_or(0);
            (0..height)
                .map(|row| {
                    let mut l = String::new();
                    for (i, c) in cells.iter().enumerate() {
                        let text = c.get(row).map(String::as_str).unwrap_or("");
                        if i + 1 < cells.len() {
                            l.push_str(&pad(text, widths[i]));
                            l.push_str(GAP);
                        } else {
                            l.push_str(text);
                        }
                    }
                    l.trim_end().to_string()
                })
                .collect()
        };
        let header: Vec<Vec<String>> = self.headers[..k].iter().map(|h| vec![h.clone()]).collect();
        for l in line(header) {
            writeln!(out, "{}", bold(&l))?;
        }
        let mut blocks = Vec::new();
        for r in &self.rows {
            let mut cells: Vec<Vec<String>> = r[..k - 1]
                .iter()
                .map(|c| c.lines().map(str::to_string).collect())
                .collect();
            cells.push(r[k - 1].lines().flat_map(|l| wrap(l, room, "")).collect());
            let mut block = line(cells);
            for (h, c) in self.headers[k..].iter().zip(&r[k..]) {
                // A Chinese header takes a full-width colon.
                let colon = if h.width() > h.chars().count() {
                    "："
                } else {
                    ": "
                };
                let text = format!("{h}{colon}{}", c.replace('\n', ", "));
                let w = width.saturating_sub(BELOW.len());
                block.extend(
                    wrap(&text, w, "  ")
                        .into_iter()
                        .map(|l| format!("{BELOW}{l}")),
                );
            }
            blocks.push(block);
        }
        // Rows of one line read as a table; rows of several need a blank line to tell them apart.
        let spaced = blocks.iter().any(|b| b.len() > 1);
        for (i, b) in blocks.iter().enumerate() {
            if spaced && i > 0 {
                writeln!(out)?;
            }
            for l in b {
                writeln!(out, "{l}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        Grid {
            headers: vec![
                "Revision".into(),
                "Status".into(),
                "Chart".into(),
                "Description".into(),
            ],
            rows: vec![vec![
                "3".into(),
                "pending-upgrade".into(),
                "bk-paas-1.5.0".into(),
                "Upgrade \"bk-paas\" failed: timed out waiting for the condition".into(),
            ]],
        }
    }

    fn text(g: &Grid, width: usize) -> String {
        let mut out = Vec::new();
        g.write(&mut out, width, str::to_string).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_last_column_wraps_in_what_is_left() {
        let t = text(&grid(), 70);
        assert!(t.lines().all(|l| l.width() <= 70), "{t}");
        let lines: Vec<_> = t.lines().collect();
        assert!(
            lines[0].starts_with("Revision  Status           Chart          Description"),
            "{t}"
        );
        assert!(
            lines[1].starts_with("3         pending-upgrade  bk-paas-1.5.0  Upgrade"),
            "{t}"
        );
        assert!(
            lines[2].starts_with("                                         "),
            "{t}"
        );
    }

    #[test]
    fn columns_that_do_not_fit_go_under_the_row() {
        let t = text(&grid(), 40);
        assert!(t.lines().all(|l| l.width() <= 40), "{t}");
        assert!(
            t.contains("\n    Description: Upgrade \"bk-paas\"\n      failed:"),
            "{t}"
        );
        assert!(!t.lines().next().unwrap().contains("Description"), "{t}");
    }
}
