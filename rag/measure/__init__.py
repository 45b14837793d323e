"""Measurement, kept out of the answering core: `rag eval` (evaluation, with SQuAD and BEIR data
sets and their metrics) and `rag bench` (speed and memory)."""
