"""Catalog: the masking tab."""

STRINGS = {
}
