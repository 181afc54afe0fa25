"""Catalog: the SFT masking tab (and the sentences of lab.masking / lab.masking_drill)."""

STRINGS = {
    # --- the inputs ---------------------------------------------------------------------------------
    "masking.example": ("Example", "Mẫu"),
    "masking.example.pirate_row": ("Pirate assistant — dataset row", "Trợ lý cướp biển — một dòng của bộ dữ liệu"),
    "masking.example.json_row": ("JSON answers — dataset row", "Trả lời bằng JSON — một dòng của bộ dữ liệu"),
    # the titles of lab.masking.EXAMPLE_TITLES (the same codes)
    "masking.example.multi_turn": ("Multi-turn chat + system prompt", "Hội thoại nhiều lượt + system prompt"),
    "masking.example.vietnamese": ("Vietnamese chat", "Hội thoại tiếng Việt"),
    "masking.example.indented_code": ("Reply starting with indented code", "Câu trả lời mở đầu bằng code thụt lề"),
    "masking.example.own": ("Your own prompt / response", "Câu hỏi / câu trả lời của bạn"),
    "masking.example.paste_json": ("Paste a chat as JSON", "Dán một hội thoại dạng JSON"),
    "masking.row": ("Dataset row", "Dòng dữ liệu"),
    "masking.system": ("System prompt (optional)", "Lời nhắc hệ thống — system prompt (không bắt buộc)"),
    "masking.prompt": ("Prompt (user)", "Câu hỏi — prompt (user)"),
    "masking.response": ("Response (assistant)", "Câu trả lời — response (assistant)"),
    "masking.chat_json": ("Chat as JSON (list of {role, content})", "Hội thoại JSON (các {role, content})"),
    "masking.mode": ("Masking mode", "Chế độ che loss"),
    "masking.mode.completion": ("completion — only the final reply", "completion — chỉ câu trả lời cuối cùng"),
    "masking.mode.assistant": ("assistant — every assistant turn", "assistant — mọi lượt của assistant"),
    "masking.mode.none": ("none — every token (pre-training)", "none — mọi token (như tiền huấn luyện)"),
    "masking.model": ("Model scoring the tokens", "Mô hình chấm loss cho các token"),
    "masking.model.bundled": ("Bundled: SmolLM2-135M-Instruct", "Đi kèm lab: SmolLM2-135M-Instruct"),
    "masking.model.base": ("Base checkpoint (LAB_MODEL)", "Checkpoint mô hình gốc (LAB_MODEL)"),
    "masking.model.info": ("Base checkpoint: {path}", "Checkpoint mô hình gốc: {path}"),
    "masking.go": ("Show tokens and losses", "Xem token và loss"),
    "masking.why": ("Why masking, and what -100 means", "Vì sao phải che loss, và nhãn -100 nghĩa là gì"),
    "masking.explain": (
        """
### Why mask?
SFT keeps the pre-training objective — **predict the next token** — but takes the loss **only on
the response**. The prompt is given at inference time; training on it would teach the model to
write users' questions (and, with a fixed system prompt, to memorise it) instead of answering.

**What -100 means.** Each position *i* has a label: the token the model should predict there.
`torch.nn.CrossEntropyLoss` (and the loss inside `transformers`) has `ignore_index=-100`: a position
labelled **-100 adds nothing to the sum and is not counted in the mean**:

loss = − (1/|T|) · Σ<sub>i∈T</sub> log p(x<sub>i</sub> | x<sub>&lt;i</sub>),  T = positions whose label ≠ -100

Labels are **not shifted** here: the model compares its logits at *i − 1* with the label at *i*.
The reply's end-of-turn token `<|im_end|>` is trained too — that is how the model learns to stop.

**Where is the response?** The lab renders the chat template on prefixes of the conversation
(`messages[:k]` with `add_generation_prompt=True`) and counts tokens — it never searches strings.
""",
        """
### Vì sao phải che loss (loss masking)?
SFT giữ nguyên mục tiêu của tiền huấn luyện (pre-training) — **dự đoán token tiếp theo** — nhưng chỉ
tính hàm mất mát (loss) **trên câu trả lời (response)**. Câu hỏi (prompt) đã có sẵn khi dùng mô hình;
nếu huấn luyện cả trên nó, mô hình sẽ học cách viết ra câu hỏi của người dùng (và, với một system prompt
cố định, học thuộc lòng system prompt đó) thay vì học cách trả lời.

**Nhãn -100 nghĩa là gì.** Mỗi vị trí *i* có một nhãn (label): token mà mô hình phải dự đoán ở đó.
`torch.nn.CrossEntropyLoss` (và loss bên trong `transformers`) có `ignore_index=-100`: một vị trí mang
nhãn **-100 không góp gì vào tổng và không được đếm khi lấy trung bình**:

loss = − (1/|T|) · Σ<sub>i∈T</sub> log p(x<sub>i</sub> | x<sub>&lt;i</sub>),  T = các vị trí có nhãn ≠ -100

Ở đây nhãn **không bị dịch đi (shift)**: chính mô hình so logits của nó tại *i − 1* với nhãn tại *i*.
Token kết thúc lượt `<|im_end|>` của câu trả lời cũng được tính loss — nhờ vậy mô hình học được khi nào
thì dừng.

**Câu trả lời nằm ở đâu?** Lab render chat template trên các tiền tố (prefix) của hội thoại
(`messages[:k]` với `add_generation_prompt=True`) rồi đếm token — nó không bao giờ tìm kiếm chuỗi.
""",
    ),
    "masking.strip.empty": ("Pick an example and a masking mode, then press <b>Show tokens and losses</b>.",
                            "Chọn một mẫu và một chế độ che loss, rồi bấm <b>Xem token và loss</b>."),
    "masking.table": ("Token table", "Bảng token"),
    "masking.col.position": ("position", "vị trí"),
    "masking.col.token": ("token", "token"),
    "masking.col.id": ("id", "id"),
    "masking.col.label": ("label", "nhãn"),
    "masking.col.loss": ("loss (nats)", "loss (nat)"),
    "masking.col.counted": ("counted", "được tính"),
    "masking.counted.yes": ("yes", "có"),
    "masking.counted.no": ("no", "không"),
    "masking.drill.explain": (
        """
### Failure drill: searching for the response template
Older recipes (TRL's `DataCollatorForCompletionOnlyLM`, Unsloth's `train_on_responses_only`,
FastChat's length arithmetic) found the reply by tokenizing a **response template alone** and
searching its token ids in the sequence. Tokenized alone, a template need not match the same text
tokenized in context (BPE merges across the boundary), and a template copied from another model's
format is not there at all. **Not found → every label becomes -100**: the example silently trains
nothing (only a log warning). The opposite slip — no collator at all, labels = input_ids — trains
the whole prompt: that is mode **none** above. Pick a template below and compare the counts; the
"{example}" example loses even this model's own header
`<|im_start|>assistant` + newline, because that newline token merges with the spaces that follow.
""",
        """
### Bài tập lỗi: tìm response template bằng cách dò chuỗi
Các công thức cũ (`DataCollatorForCompletionOnlyLM` của TRL, `train_on_responses_only` của Unsloth,
phép cộng độ dài của FastChat) tìm câu trả lời bằng cách tokenize **riêng một mẫu mở đầu câu trả lời
(response template)** rồi dò các token id của nó trong chuỗi. Khi tokenize riêng, template chưa chắc
khớp với chính đoạn văn bản đó khi được tokenize trong ngữ cảnh (BPE gộp token qua ranh giới), còn một
template chép từ định dạng của mô hình khác thì hoàn toàn không có mặt. **Không tìm thấy → mọi nhãn
thành -100**: mẫu đó âm thầm không dạy được gì (chỉ có một cảnh báo trong log). Sai sót ngược lại —
không dùng collator nào, labels = input_ids — sẽ huấn luyện cả câu hỏi: đó chính là chế độ **none** ở
trên. Hãy chọn một template bên dưới và so sánh các con số; mẫu "{example}" làm mất cả tiêu đề
`<|im_start|>assistant` + xuống dòng của chính mô hình này, vì token xuống dòng đó gộp với các dấu cách
theo sau nó.
""",
    ),
    "masking.template": ("Response template searched for (tokenized alone)",
                         "Response template cần dò (tokenize riêng)"),
    # --- what the handler writes ----------------------------------------------------------------------
    "masking.role.template": ("template", "template tự thêm"),
    "masking.role.template_tip": ("text the chat template adds by itself (SmolLM2: a default system prompt)",
                                  "văn bản chat template tự thêm vào (SmolLM2: một system prompt mặc định)"),
    "masking.tok.title": ("#{i} · {shown} · id {id} · label {label} · loss {loss}",
                          "#{i} · {shown} · id {id} · nhãn {label} · loss {loss}"),
    "masking.tok.bytes": ("{text} (bytes {hex})", "{text} (byte {hex})"),
    "masking.tok.not_counted": (" (not counted)", " (không tính)"),
    "masking.legend.masked": ("masked (-100)", "bị che (-100)"),
    "masking.legend.loss": ("loss {v:g}", "loss {v:g}"),
    "masking.legend.pending": ("trained (loss pending…)", "được tính loss (đang tính loss…)"),
    "masking.legend.help": (
        " · hover a token for its id, label and loss · · = space, ↵ = newline, ‹e1 bb› = bytes of part of a letter",
        " · rê chuột lên một token để xem id, nhãn và loss · · = dấu cách, ↵ = xuống dòng, "
        "‹e1 bb› = các byte của một phần chữ cái",
    ),
    "masking.card.tokens": ("tokens in total (as the model sees them)", "token tổng cộng (đúng như mô hình thấy)"),
    "masking.card.trained": ("tokens that carry loss ({share:.0%} of predictions)",
                             "token được tính loss ({share:.0%} số lần dự đoán)"),
    "masking.card.masked_loss": ("mean loss with masking ({mode})", "loss trung bình khi che ({mode})"),
    "masking.card.masked_loss_pending": ("mean loss with masking", "loss trung bình khi che"),
    "masking.card.full_loss": ("mean loss without masking (every token)", "loss trung bình khi không che (mọi token)"),
    "masking.card.wasted": ("of the logits computed are wasted on masked positions",
                            "số hàng logits tính ra bị phí ở các vị trí bị che"),
    "masking.notes": ("Format: **{format}** · mode **{mode}**: {help}. Losses computed in {dtype}.",
                      "Định dạng: **{format}** · chế độ **{mode}**: {help}. Loss được tính bằng {dtype}."),
    "masking.format.chat": ("chat template", "chat template của mô hình"),
    "masking.format.plain": ("plain (no chat template)", "dạng thuần (không có chat template)"),
    "masking.drill.string_search": ("supervised tokens, string search ({found})",
                                    "token được tính loss, dò chuỗi ({found})"),
    "masking.drill.not_found": ("not found", "không tìm thấy"),
    "masking.drill.found": ("found, last match at token {n}", "tìm thấy, lần khớp cuối ở token {n}"),
    "masking.drill.prefix": ("supervised tokens, prefix rendering (the lab)",
                             "token được tính loss, render tiền tố (cách của lab)"),
    "masking.drill.alone": ("template {template} tokenized alone: [{ids}]",
                            "template {template} khi tokenize riêng: [{ids}]"),
    "masking.drill.context": ("the last reply's header in context: [{ids}]",
                              "tiêu đề của câu trả lời cuối, trong ngữ cảnh: [{ids}]"),
}

ERRORS = {
    # field names (lab.checks.field)
    "field.the_dataset_row": "Dòng dữ liệu",
    "field.the_example": "Mẫu",
    "field.the_masking_mode": "Chế độ che loss",
    "field.max_length_tokens_kept": "max_length (số token giữ lại)",
    "field.the_response_template": "Mẫu mở đầu câu trả lời (response template)",
    "masking.field.role_of_message": "Vai trò (role) của tin nhắn {k}",
    # lab.masking: what each mode trains
    "masking.mode_help.completion": "chỉ câu trả lời cuối cùng của assistant được tính loss "
                                    "(SFT trên các cặp (câu hỏi, câu trả lời))",
    "masking.mode_help.assistant": "mọi lượt của assistant trong hội thoại đều được tính loss",
    "masking.mode_help.none": "mọi token đều được tính loss, như khi tiền huấn luyện (cả câu hỏi)",
    # lab.masking: a chat that cannot be used
    "masking.chat_not_list": "Một hội thoại phải là một danh sách tin nhắn không rỗng, mỗi tin nhắn có 'role' "
                             "và 'content'.",
    "masking.too_many_messages": "Một hội thoại có tối đa {limit:,} tin nhắn; hội thoại này có {n:,}.",
    "masking.message_not_object": "Tin nhắn {k} phải là một object có 'role' và 'content', không phải {kind}.",
    "masking.content_not_text": "Tin nhắn {k} ({role}) phải có nội dung là văn bản, không phải {kind}.",
    "masking.no_assistant": "Hội thoại này không có tin nhắn nào của assistant, nên không có câu trả lời nào để "
                            "học: hãy thêm một tin nhắn có role 'assistant' (SFT huấn luyện trên các cặp câu hỏi / "
                            "câu trả lời).",
    "masking.last_not_reply": "Hội thoại kết thúc bằng một tin nhắn {role}; ở chế độ 'completion', tin nhắn cuối "
                              "phải là câu trả lời của assistant — phần được huấn luyện.",
    "masking.empty_reply": "Câu trả lời của assistant (tin nhắn {k}) đang trống: không có gì để huấn luyện. "
                           "Hãy viết một câu trả lời.",
    "masking.template_rejects": "Chat template của mô hình không chấp nhận hội thoại này: {error}",
    "masking.too_short": "Mẫu cần ít nhất 2 token thì mới có loss dự đoán token tiếp theo.",
    "masking.json_empty": 'Hãy dán một hội thoại dạng JSON, ví dụ [{{"role": "user", "content": "Hi"}}, '
                          '{{"role": "assistant", "content": "Hello!"}}].',
    "masking.json_too_long": "JSON đã dán có {n:,} ký tự; giới hạn là {limit:,}.",
    "masking.json_invalid": "Hội thoại đã dán không phải JSON hợp lệ ({problem} ở dòng {line}, cột {column}).",
    "masking.json_too_deep": "JSON đã dán lồng nhau quá sâu: một hội thoại là một danh sách phẳng các tin nhắn.",
    "masking.prompt_empty": "Câu hỏi (prompt) đang trống: hãy nhập câu hỏi hoặc chỉ dẫn của người dùng.",
    # Python's words for a JSON syntax error (lab.masking.JSON_PROBLEMS)
    "masking.json.expecting_value": "thiếu một giá trị",
    "masking.json.expecting_name": "thiếu tên thuộc tính trong dấu ngoặc kép",
    "masking.json.expecting_colon": "thiếu dấu ':'",
    "masking.json.expecting_comma": "thiếu dấu ','",
    "masking.json.extra_data": "có dữ liệu thừa",
    "masking.json.unterminated": "chuỗi chưa được đóng, bắt đầu",
    "masking.json.control_character": "có ký tự điều khiển không hợp lệ",
    "masking.json.invalid_escape": "có chuỗi thoát (\\escape) không hợp lệ",
    # lab.masking: notices shown above the tokens
    "masking.notice.plain_format": "Tokenizer này không có chat template, nên lab dùng một định dạng thuần "
                                   "(tiêu đề '### User:' / '### Assistant:', mỗi câu trả lời kết thúc bằng token EOS).",
    "masking.notice.truncated": "Mẫu có {total:,} token; chỉ giữ lại {keep:,} token đầu tiên "
                                "(truncation_mode='keep_start', như max_length={keep} của TRL).",
    "masking.notice.nothing_left": "Sau khi cắt bớt, không còn token nào của câu trả lời: mẫu này không dạy được "
                                   "gì (TRL bỏ những dòng như vậy).",
    "masking.notice.cut": "Tin nhắn {k} ({role}) có {n:,} ký tự; lab chỉ giữ lại {limit:,} ký tự đầu tiên.",
    # lab.masking_drill
    "masking_drill.no_template": "Hãy nhập một response template để dò (ví dụ '<|im_start|>assistant\\n').",
    "masking_drill.source.chatml": "tiêu đề ChatML của chính mô hình này",
    "masking_drill.source.trl_docs": 'ví dụ trong tài liệu cũ của TRL ("### Question: ... ### Answer: ...")',
    "masking_drill.source.alpaca": "các bài hướng dẫn kiểu Alpaca",
    "masking_drill.source.zephyr": "định dạng hội thoại của Zephyr / Phi-3",
    "masking_drill.source.llama2": "định dạng hội thoại của Llama 2 / Mistral",
    # lab.ui.masking
    "masking.no_base_checkpoint": "Chưa cấu hình checkpoint mô hình gốc: hãy đặt LAB_MODEL là đường dẫn tới một "
                                  "thư mục mô hình trên máy.",
}
