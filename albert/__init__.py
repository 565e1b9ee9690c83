# coding=utf-8
"""ALBERT (google-research/albert) on the shared BERT code: ALBERT's files."""
