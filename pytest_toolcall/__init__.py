"""pytest-toolcall: LLM function-calling quality as pytest regression tests."""

__version__ = "0.1.0"
