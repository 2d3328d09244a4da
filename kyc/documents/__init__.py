"""Turning OCR lines of a known document type into named fields."""
