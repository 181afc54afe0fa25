"""Catalog: the page's header, the tab names, and sentences every tab shares."""

STRINGS = {
    "app.header": (
        """# Tuning Lab
**How a pre-trained language model becomes an assistant**: supervised fine-tuning (SFT),
instruction tuning, SFT data, parameter-efficient fine-tuning (PEFT), LoRA and QLoRA — on a real
135M-parameter model, with every number checked against the real libraries
(`transformers`, `peft`, `bitsandbytes`). The tabs follow the lecture (Stanford CME 295, lecture 5).""",
        """# Tuning Lab
**Một mô hình ngôn ngữ đã tiền huấn luyện (pre-training) trở thành trợ lý như thế nào**: tinh chỉnh có
giám sát (SFT), tinh chỉnh theo chỉ dẫn (instruction tuning), dữ liệu SFT, tinh chỉnh hiệu quả tham số
(PEFT), LoRA và QLoRA — trên một mô hình thật 135 triệu tham số, mọi con số đều được đối chiếu với các
thư viện thật (`transformers`, `peft`, `bitsandbytes`). Các thẻ đi theo thứ tự bài giảng (Stanford
CME 295, bài 5).""",
    ),
    "app.lang": ("Language", "Ngôn ngữ"),
    "tab.model_data": ("Model & data", "Mô hình & dữ liệu"),
    "tab.masking": ("SFT masking", "Che loss trong SFT"),
    "tab.lora": ("LoRA calculator", "Máy tính LoRA"),
    "tab.nf4": ("NF4 explorer", "Khám phá NF4"),
    "tab.training": ("QLoRA training", "Huấn luyện QLoRA"),
    "tab.experiments": ("Experiments", "Thí nghiệm"),
    "common.unexpected": (
        "The lab could not do this: an unexpected {kind} (logged on the server). Try other values, or reload the page.",
        "Lab không làm được việc này: gặp lỗi bất ngờ {kind} (đã ghi vào nhật ký máy chủ). Hãy thử giá trị khác, "
        "hoặc tải lại trang.",
    ),
    "common.not_uploaded": (
        "That file was not uploaded to this lab, so it cannot be read: upload it with the file box "
        "(a path on the server is never opened).",
        "Tệp này chưa được tải lên lab nên không đọc được: hãy tải nó lên bằng ô chọn tệp "
        "(lab không bao giờ mở một đường dẫn trên máy chủ).",
    ),
    "common.bad_choice": (
        "{field} must be one of: {choices}; not {shown}.",
        "{field} phải là một trong: {choices}; không phải {shown}.",
    ),
    "common.dash": ("–", "–"),
    "common.error": ("Error", "Lỗi"),
    "common.bundled_model": ("{name} (bundled)", "{name} (đi kèm lab)"),
    "common.seconds": ("{s:.0f} s", "{s:.0f} giây"),
    "common.minutes": ("{m:.0f} min {s:02.0f} s", "{m:.0f} phút {s:02.0f} giây"),
}

ERRORS = {
    # lab.checks: one home for the range checks
    "checks.whole_number": "{name} phải là số nguyên từ {lo:,} đến {hi:,}, không phải {value}.",
    "checks.number": "{name} phải là một số từ {lo:g} đến {hi:g}, không phải {value}.",
    "checks.one_of": "{name} phải là một trong: {options}; không phải {value}.",
    "checks.not_text": "{name} phải là văn bản, không phải {kind}.",
    "checks.empty": "{name} đang trống: hãy nhập nội dung trước.",
    "checks.too_long": "{name} dài {n:,} ký tự; giới hạn là {limit:,}.",
}
