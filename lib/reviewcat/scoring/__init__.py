"""Scoring: a model on new texts and whole tables, SageMaker Batch Transform, and drift."""
