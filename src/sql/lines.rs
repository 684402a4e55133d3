//! Byte offsets to 1-based line and column numbers.

/// Line starts of one file, for turning byte offsets into positions.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        LineIndex::with_folds(text, &[])
    }

    /// Line starts of a text into which values were put (`folds`, sorted byte ranges): a line
    /// break inside one starts no line, so positions keep naming the lines of the file as
    /// written. A position after such a break counts its column from the file's line start.
    pub fn with_folds(text: &str, folds: &[std::ops::Range<usize>]) -> LineIndex {
        let mut starts = vec![0];
        let mut fold = folds.iter().peekable();
        for (i, b) in text.bytes().enumerate() {
            if b != b'\n' {
                continue;
            }
            while fold.next_if(|f| f.end <= i).is_some() {}
            if fold.peek().is_some_and(|f| f.start <= i) {
                continue;
            }
            starts.push(i + 1);
        }
        LineIndex { starts }
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn position(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let column = text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line + 1, column)
    }

    /// Byte range of a 1-based line, without its terminator.
    pub fn line_range(&self, text: &str, line: usize) -> std::ops::Range<usize> {
        let start = self.starts[line - 1];
        let end = self.starts.get(line).map_or(text.len(), |&s| s - 1);
        let end = if end > start && text.as_bytes()[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        start..end.max(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let t = "ab\ncé d\n";
        let idx = LineIndex::new(t);
        assert_eq!(idx.position(t, 0), (1, 1));
        assert_eq!(idx.position(t, 3), (2, 1));
        assert_eq!(idx.position(t, 7), (2, 4));
        assert_eq!(&t[idx.line_range(t, 2)], "cé d");
    }

    #[test]
    fn folded_line_breaks_start_no_line() {
        // Line 1 of the file got a two-line value; line 2 of the file stays line 2.
        let t = "SELECT 'a\nb';\nDROP TABLE t;\n";
        let folds = vec![std::ops::Range { start: 8, end: 11 }];
        let idx = LineIndex::with_folds(t, &folds);
        assert_eq!(idx.position(t, 10).0, 1);
        assert_eq!(idx.position(t, 14), (2, 1));
        assert_eq!(LineIndex::new(t).position(t, 14), (3, 1));
    }
}
