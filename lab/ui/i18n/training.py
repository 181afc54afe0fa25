"""Catalog: the training tab."""

STRINGS = {
}
