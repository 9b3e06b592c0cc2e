//! Coalitions of one explained row: which columns take the explained row's values, as bitsets
//! of any width (one `u64` word per 64 columns), so that estimators over images and text with
//! thousands of features use the same machinery as those over a dozen columns.

/// A list of coalitions over `n_columns` columns, each a bitset of `words` 64-bit words.
///
/// A coalition's value is the model's weighted mean output over every background row
/// (`v(S) = Σᵢ wᵢ f(x_S, bᵢ)`), or, in lists built with [`Coalitions::on_single_rows`], its
/// output with one given background row (`f(x_S, b_r)`, for estimators that sample
/// background rows themselves).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coalitions {
    n_columns: usize,
    words: usize,
    bits: Vec<u64>,
    single_rows: bool,
    background_rows: Vec<usize>,
}

impl Coalitions {
    /// No coalitions yet, over `n_columns` columns.
    pub fn new(n_columns: usize) -> Self {
        Coalitions {
            n_columns,
            words: n_columns.div_ceil(64),
            bits: Vec::new(),
            single_rows: false,
            background_rows: Vec::new(),
        }
    }

    /// No coalitions yet, each to be masked onto one background row of its own
    /// ([`Coalitions::push_on_row`]).
    pub fn on_single_rows(n_columns: usize) -> Self {
        Coalitions {
            single_rows: true,
            ..Coalitions::new(n_columns)
        }
    }

    /// Whether each coalition is masked onto one background row of its own.
    pub fn is_on_single_rows(&self) -> bool {
        self.single_rows
    }

    /// The background row coalition `c` is masked onto (lists on single rows only).
    #[inline]
    pub fn background_row(&self, c: usize) -> usize {
        self.background_rows[c]
    }

    /// Appends a coalition (its bitset words) masked onto background row `row` alone.
    pub fn push_on_row(&mut self, words: &[u64], row: usize) {
        debug_assert!(self.single_rows);
        self.bits.extend_from_slice(words);
        self.background_rows.push(row);
    }

    /// Room for `n` coalitions without reallocating.
    pub fn with_capacity(n_columns: usize, n: usize) -> Self {
        let mut c = Coalitions::new(n_columns);
        c.bits.reserve(n * c.words);
        c
    }

    /// Number of columns each coalition is over.
    pub fn n_columns(&self) -> usize {
        self.n_columns
    }

    /// Number of coalitions.
    pub fn len(&self) -> usize {
        self.bits.len().checked_div(self.words).unwrap_or(0)
    }

    /// Whether there are no coalitions.
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// Appends the coalition of the given columns (each below `n_columns`).
    pub fn push_columns(&mut self, columns: impl IntoIterator<Item = usize>) {
        debug_assert!(!self.single_rows);
        let start = self.bits.len();
        self.bits.resize(start + self.words, 0);
        let words = &mut self.bits[start..];
        for j in columns {
            debug_assert!(j < self.n_columns);
            words[j / 64] |= 1 << (j % 64);
        }
    }

    /// Appends a coalition given as its bitset words (`n_columns.div_ceil(64)` of them).
    pub fn push_words(&mut self, words: &[u64]) {
        debug_assert_eq!(words.len(), self.words);
        debug_assert!(!self.single_rows);
        self.bits.extend_from_slice(words);
    }

    /// Coalition `c`'s bitset words.
    #[inline]
    pub fn words(&self, c: usize) -> &[u64] {
        &self.bits[c * self.words..(c + 1) * self.words]
    }

    /// Whether column `j` is in coalition `c`.
    #[inline]
    pub fn contains(&self, c: usize, j: usize) -> bool {
        self.words(c)[j / 64] >> (j % 64) & 1 == 1
    }

    /// The columns of coalition `c`, in increasing order.
    pub fn columns(&self, c: usize) -> impl Iterator<Item = usize> + '_ {
        self.words(c).iter().enumerate().flat_map(|(w, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                Some(w * 64 + bit)
            })
        })
    }
}

/// A bitset of `n_columns` bits that estimators edit one column at a time while they walk
/// from coalition to coalition (a permutation's path, a Gray code).
#[derive(Clone, Debug)]
pub(crate) struct Bits(Vec<u64>);

impl Bits {
    pub(crate) fn empty(n_columns: usize) -> Self {
        Bits(vec![0; n_columns.div_ceil(64)])
    }

    pub(crate) fn full(columns: &[usize], n_columns: usize) -> Self {
        let mut b = Bits::empty(n_columns);
        for &j in columns {
            b.set(j);
        }
        b
    }

    #[inline]
    pub(crate) fn set(&mut self, j: usize) {
        self.0[j / 64] |= 1 << (j % 64);
    }

    #[inline]
    pub(crate) fn clear(&mut self, j: usize) {
        self.0[j / 64] &= !(1 << (j % 64));
    }

    #[inline]
    pub(crate) fn toggle(&mut self, j: usize) {
        self.0[j / 64] ^= 1 << (j % 64);
    }

    pub(crate) fn words(&self) -> &[u64] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_wider_than_one_word_keep_every_column() {
        let mut c = Coalitions::new(200);
        c.push_columns([0, 63, 64, 130, 199]);
        c.push_columns([]);
        assert_eq!(c.len(), 2);
        assert_eq!(c.columns(0).collect::<Vec<_>>(), [0, 63, 64, 130, 199]);
        assert!(c.contains(0, 130) && !c.contains(0, 131));
        assert_eq!(c.columns(1).count(), 0);
        let mut b = Bits::empty(200);
        b.set(199);
        b.toggle(5);
        b.clear(199);
        c.push_words(b.words());
        assert_eq!(c.columns(2).collect::<Vec<_>>(), [5]);
    }
}
