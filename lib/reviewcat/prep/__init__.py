"""Preparation: labels, the balanced sample, text to fastText lines, splits, and the label's bias."""
