"""Training: one search space, a SageMaker BlazingText tuner and a local fastText search, evaluation, prediction."""
