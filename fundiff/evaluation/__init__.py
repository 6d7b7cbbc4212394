"""Judging generated digits: the shipped classifier's metrics, and the evaluation report."""
