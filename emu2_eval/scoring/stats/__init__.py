"""Uncertainty of evaluation results: bootstrap intervals over documents and paired comparisons.

Every metric is recomputed on resampled corpora (documents drawn with replacement), so corpus
level metrics (CIDEr, BLEU, ROC-AUC) get intervals of the corpus statistic, not of a per-sample
mean.  How a metric is recomputed is the
:class:`~emu2_eval.scoring.stats.resamplers.Resampler` its class declares (``resampler``), never
an if/elif on metric names.
"""
