"""Catalog: the model_data tab."""

STRINGS = {
}
