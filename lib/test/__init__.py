"""Tracking (inference): the IIMF tracker, the dataset runner and the local settings."""
