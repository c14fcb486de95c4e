"""Atheris (libFuzzer) harnesses for the untrusted-input surfaces; see fuzz/run.py and docs/security.md."""
