"""The cookbook's data steps beside the tests: generate cases, export fine-tuning JSONL."""
