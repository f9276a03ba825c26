"""Judge: pure functions from an expectation and the model's calls to a `Verdict`."""
