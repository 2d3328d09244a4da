"""Route tables, one module per audience."""
