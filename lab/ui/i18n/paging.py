"""Catalog: the paged-optimizer panel of the Experiments tab."""

STRINGS = {
    "paging.coming": ("Coming in this session.", "Sắp có trong phiên này."),
}
