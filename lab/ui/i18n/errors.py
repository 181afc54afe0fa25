"""Catalog: the sentences the headless ``lab`` raises (:class:`lab.errors.LabError`), in Vietnamese.

Keyed by the error's code; the English sentence lives in ``lab`` beside the check that raises it, and
each template here uses the same ``{fields}`` (a test compares them). Field names passed to
``lab.checks`` have codes too (``field.<the name, lower case, _ for spaces>``).
"""

ERRORS = {
    # lab.checks: one home for the range checks
    "checks.whole_number": "{name} phải là số nguyên từ {lo:,} đến {hi:,}, không phải {value}.",
    "checks.number": "{name} phải là một số từ {lo:g} đến {hi:g}, không phải {value}.",
    "checks.one_of": "{name} phải là một trong: {options}; không phải {value}.",
    "checks.not_text": "{name} phải là văn bản, không phải {kind}.",
    "checks.empty": "{name} đang trống: hãy nhập nội dung trước.",
    "checks.too_long": "{name} dài {n:,} ký tự; giới hạn là {limit:,}.",
}

ERRORS.update({
    # field names (lab.checks.field): the NF4 explorer
    "field.the_tensor_source": "Nguồn tensor",
    "field.the_layer": "Lớp",
    "field.the_module": "Mô-đun",
    "field.the_synthetic_tensor_kind": "Loại tensor tự tạo",
    "field.the_number_of_values_synthetic": "Số giá trị (tự tạo)",
    "field.the_seed_synthetic": "Seed (tự tạo)",
    "field.the_4_bit_type": "Kiểu 4 bit",
    "field.the_block_size": "Kích thước khối",
    "field.double_quantization": "Lượng tử hoá kép",
    "field.the_block_to_zoom_into": "Khối cần phóng to",
    "field.the_model_size_billions_of_parameters": "Kích thước mô hình (tỉ tham số)",
    "field.the_number_of_dataset_rows": "Số dòng dữ liệu",
})
