"""Catalog: the lora tab."""

STRINGS = {
}
