//! Margin prediction: the oracle every explanation must add up to.

use ndarray::{Array2, ArrayView2};

use super::{OutputTransform, TreeEnsemble};
use crate::Scalar;
use crate::error::Result;
use crate::parallel::ROW_BLOCK;

impl TreeEnsemble {
    /// Reads row `i` of `x` into `buf` the way the source library would (precision, tiny values).
    #[inline]
    pub(crate) fn prepare_row<F: Scalar>(&self, x: &ArrayView2<'_, F>, i: usize, buf: &mut [f64]) {
        let row = x.row(i);
        for (b, v) in buf.iter_mut().zip(row.iter()) {
            *b = self.rules.prepare(v.to_f64());
        }
    }

    /// Margin (raw) prediction, shape `(n_rows, n_outputs)`, computed in f64 with the source
    /// library's routing. Parallel over rows; the result does not depend on the thread count.
    pub fn predict_margin<F: Scalar>(&self, x: ArrayView2<'_, F>) -> Result<Array2<f64>> {
        self.check_features(x.ncols())?;
        let (n, k) = (x.nrows(), self.n_outputs);
        let mut out = Array2::<f64>::zeros((n, k));
        let slice = out.as_slice_mut().expect("fresh array is contiguous");
        let predict_block = |(block, chunk): (usize, &mut [f64])| {
            let mut buf = vec![0.0; self.n_features];
            for (r, out_row) in chunk.chunks_mut(k).enumerate() {
                self.prepare_row(&x, block * ROW_BLOCK + r, &mut buf);
                out_row.copy_from_slice(&self.base_offset);
                for tree in &self.trees {
                    let leaf = tree.leaf_for(&buf, &self.rules);
                    for (o, v) in out_row[tree.output..].iter_mut().zip(tree.leaf_value(leaf)) {
                        *o += v;
                    }
                }
            }
        };
        crate::parallel::for_each_chunk_mut(slice, ROW_BLOCK * k, |b, chunk| {
            predict_block((b, chunk));
        });
        crate::parallel::check_cancelled()?;
        Ok(out)
    }

    /// Prediction through `output` (the model's own is [`TreeEnsemble::output`]): the margins
    /// of [`TreeEnsemble::predict_margin`], each row transformed. Shape
    /// `(n_rows, output.n_outputs(n_outputs))`. Losses need labels and are refused here.
    ///
    /// ```
    /// # fn main() -> ferroshap::Result<()> {
    /// use ferroshap::TreeEnsemble;
    /// let model = TreeEnsemble::from_file("tests/fixtures/xgb34_xgb_binary.ubj")?;
    /// let x = ndarray::Array2::<f64>::zeros((3, model.n_features()));
    /// let p = model.predict(x.view(), model.output())?; // probabilities, (3, 1)
    /// let pair = model.predict(x.view(), "logistic_pair".parse()?)?; // (1 - p, p), (3, 2)
    /// assert_eq!(pair[[0, 1]], p[[0, 0]]);
    /// # Ok(()) }
    /// ```
    pub fn predict<F: Scalar>(
        &self,
        x: ArrayView2<'_, F>,
        output: OutputTransform,
    ) -> Result<Array2<f64>> {
        output.check_prediction(self.n_outputs)?;
        let margins = self.predict_margin(x)?;
        if output.is_margin() {
            return Ok(margins);
        }
        let ko = output.n_outputs(self.n_outputs);
        let mut out = Array2::<f64>::zeros((margins.nrows(), ko));
        for (m, mut o) in margins.outer_iter().zip(out.outer_iter_mut()) {
            let m = m.as_slice().expect("fresh array is contiguous");
            let o = o.as_slice_mut().expect("fresh array is contiguous");
            output.apply(m, 0.0, o);
        }
        Ok(out)
    }
}
