"""Catalog: the Experiments tab (the training experiments)."""

STRINGS = {
    "exp.tab.runs": ("Training experiments", "Thí nghiệm huấn luyện"),
    "exp.tab.paging": ("Paged optimizers", "Bộ tối ưu phân trang"),
    "exp.coming": ("Coming in this session.", "Sắp có trong phiên này."),
}
