"""Catalog: the QLoRA training tab."""

STRINGS = {
    "train.explain.how": (
        """**What happens when you press Train.** The base model loads in 4-bit NF4, LoRA adapters are added to
the chosen layers, and each step trains on *batch size* examples (labels from the masking mode). The
loss is next-token cross-entropy on the trained tokens. Afterwards the base model (adapter switched
off) and the adapted model answer the dataset's held-out `eval` prompts, never trained on, plus a few
general-knowledge questions: did it learn the behaviour, and did it forget anything?
Speed on a CPU: examples are packed end to end without padding, logits are computed only where there
is a loss, and nothing is recomputed (no gradient checkpointing).""",
        """**Điều gì xảy ra khi bạn bấm Huấn luyện.** Mô hình gốc (base model) được nạp ở dạng NF4 4 bit, các
adapter LoRA được gắn vào những lớp đã chọn, và mỗi bước huấn luyện trên *kích thước lô* mẫu (nhãn theo
chế độ che loss). Loss là cross-entropy của việc dự đoán token tiếp theo, tính trên các token được tính
loss. Sau đó mô hình gốc (tắt adapter) và mô hình đã gắn adapter cùng trả lời các prompt `eval` được giữ
lại của bộ dữ liệu — chưa từng được huấn luyện — và vài câu hỏi kiến thức phổ thông: mô hình đã học được
hành vi chưa, và nó có quên điều gì không?
Tốc độ trên CPU: các mẫu được ghép nối đuôi nhau, không cần đệm (padding); logits chỉ được tính ở những
vị trí có loss; và không có gì phải tính lại (không dùng gradient checkpointing).""",
    ),
    "train.explain.title": ("LoRA and QLoRA in one page", "LoRA và QLoRA trong một trang"),
    "train.explain.lora": (
        """### LoRA (Hu et al. 2021)
Instead of updating a weight matrix **W** (d × d), learn a low-rank update **ΔW = B A** with
B (d × r) and A (r × d), r small (8, 16, 64): **W′ = W + (α / r) · B A**. **B starts at zero**, so
training starts exactly from the pre-trained model. Trainable parameters fall by orders of magnitude
(GPT-3 175B: 10,000× fewer, 3× less GPU memory) with quality comparable to full fine-tuning.

### QLoRA (Dettmers et al. 2023)
LoRA on top of a base model **stored in 4 bits**, so large models train on small GPUs:
- **NF4**: 16 levels at quantiles of a standard normal, block-wise absmax scaling (blocks of 64);
- **double quantization**: the block scales are quantized too (8 bits, blocks of 256) —
  0.5 → 0.127 bits of overhead per parameter;
- **paged optimizers**: optimizer states move between GPU and CPU memory when the GPU runs out.
  *On this CPU there is nothing to page to: the lab uses plain AdamW and says so.*

Result: a 65B model fine-tuned on a single 48 GB GPU (16-bit full fine-tuning needs > 780 GB).
Here: a 135M model on two CPU cores: with the default settings about 65 s of training and 25 s of
evaluation (measured on an idle 2-core machine).""",
        """### LoRA (Hu và cộng sự, 2021)
Thay vì cập nhật trực tiếp ma trận trọng số **W** (d × d), ta học một cập nhật hạng thấp **ΔW = B A**
với B (d × r) và A (r × d), hạng r nhỏ (8, 16, 64): **W′ = W + (α / r) · B A**. **B bắt đầu bằng 0**,
nên quá trình huấn luyện xuất phát đúng từ mô hình đã tiền huấn luyện. Số tham số huấn luyện được giảm đi
nhiều bậc (GPT-3 175B: ít hơn 10,000 lần, bộ nhớ GPU ít hơn 3 lần) mà chất lượng vẫn tương đương tinh
chỉnh toàn bộ (full fine-tuning).

### QLoRA (Dettmers và cộng sự, 2023)
LoRA trên một mô hình gốc **lưu ở 4 bit**, nhờ đó mô hình lớn huấn luyện được trên GPU nhỏ:
- **NF4**: 16 mức đặt tại các phân vị của phân phối chuẩn tắc, co giãn theo absmax của từng khối
  (khối 64 giá trị);
- **lượng tử hoá kép (double quantization)**: các hệ số của khối cũng được lượng tử hoá (8 bit, khối
  256) — phần bộ nhớ phụ giảm từ 0.5 xuống 0.127 bit cho mỗi tham số;
- **bộ tối ưu phân trang (paged optimizers)**: trạng thái bộ tối ưu (optimizer states) được chuyển giữa
  bộ nhớ GPU và RAM của CPU khi GPU hết chỗ. *Trên CPU này không có nơi nào để phân trang: lab dùng
  AdamW thường và nói rõ điều đó.*

Kết quả: một mô hình 65B được tinh chỉnh trên một GPU 48 GB duy nhất (tinh chỉnh toàn bộ ở 16 bit cần
hơn 780 GB). Ở đây: một mô hình 135M trên hai nhân CPU: với thiết lập mặc định, khoảng 65 giây huấn
luyện và 25 giây đánh giá (đo trên một máy 2 nhân đang rảnh).""",
    ),
    # the settings
    "train.heading.settings": ("### Settings", "### Thiết lập"),
    "train.base_model": ("Base model (bundled with the lab)", "Mô hình gốc (base model) — đi kèm lab"),
    "train.dataset": ("Dataset", "Bộ dữ liệu"),
    "train.dataset.upload": ("uploaded file", "tệp đã tải lên"),
    "train.quant": ("Base model storage", "Cách lưu mô hình gốc"),
    "train.quant.nf4": ("NF4 + double quantization (QLoRA)", "NF4 + lượng tử hoá kép (QLoRA)"),
    "train.quant.none": ("None: unquantized base (plain LoRA)", "Không lượng tử hoá mô hình gốc (LoRA thường)"),
    "train.upload": ("…or upload your own (JSONL / JSON / CSV / Parquet, ≤ 5 MB)",
                     "…hoặc tải lên bộ dữ liệu của bạn (JSONL / JSON / CSV / Parquet, ≤ 5 MB)"),
    "train.rank": ("LoRA rank r", "Hạng r của LoRA (rank)"),
    "train.alpha": ("LoRA alpha α", "Hệ số alpha α của LoRA"),
    "train.alpha.info": ("B A is scaled by α / r", "B A được nhân với α / r"),
    "train.dropout": ("LoRA dropout", "Dropout của LoRA"),
    "train.lr": ("Learning rate (peak)", "Tốc độ học đỉnh (learning rate)"),
    "train.targets": ("Target modules (QLoRA: every linear layer)",
                      "Các lớp được gắn LoRA (target modules; QLoRA: mọi lớp tuyến tính)"),
    "train.steps": ("Steps", "Số bước"),
    "train.batch": ("Batch size", "Kích thước lô (batch size)"),
    "train.batch.info": ("examples per step; batch × max length ≤ {limit:,} tokens (memory)",
                         "số mẫu mỗi bước; lô × độ dài ≤ {limit:,} token (bộ nhớ)"),
    "train.max_len": ("Max length", "Độ dài tối đa"),
    "train.max_len.info": ("tokens per example", "số token mỗi mẫu"),
    "train.seed": ("Seed", "Seed"),
    "train.masking": ("Loss masking", "Che loss (loss masking)"),
    "train.masking.info": (
        "completion: only the final assistant reply is trained (SFT on (prompt, response) pairs) · "
        "assistant: every assistant turn of the conversation is trained · "
        "none: every token is trained, as in pre-training (the prompt too)",
        "completion: chỉ câu trả lời cuối cùng của trợ lý được tính loss (SFT trên các cặp (prompt, response)) · "
        "assistant: mọi lượt trả lời của trợ lý trong hội thoại đều được tính loss · "
        "none: mọi token đều được tính loss, như khi tiền huấn luyện (cả prompt)",
    ),
    # the live column
    "train.train": ("Train", "Huấn luyện"),
    "train.stop": ("Stop", "Dừng"),
    "train.queue_note": (
        "One run at a time on this server: if someone else is training, your run waits in the queue "
        "(its place shows on the plot). A run stops by itself after {cap}.",
        "Máy chủ này chạy mỗi lần một lượt huấn luyện: nếu người khác đang huấn luyện, lượt của bạn chờ trong "
        "hàng đợi (vị trí của nó hiện trên biểu đồ). Một lượt tự dừng sau {cap}.",
    ),
    "train.status.ready": ("Press **Train** to start.", "Bấm **Huấn luyện** để bắt đầu."),
    "train.status.loading": ("**Loading** the model and the data…", "**Đang nạp** mô hình và dữ liệu…"),
    "train.status.nothing_running": ("Nothing is training: press **Train** to start a run.",
                                     "Không có lượt nào đang huấn luyện: bấm **Huấn luyện** để bắt đầu."),
    "train.status.stopping": ("**Stopping** after the current step; the adapter keeps what it learned so far…",
                              "**Đang dừng** sau bước hiện tại; adapter giữ lại những gì đã học được…"),
    "train.status.no_step": ("**{reason}** No step was trained, so there is nothing to compare.",
                             "**{reason}** Chưa bước nào được huấn luyện, nên không có gì để so sánh."),
    "train.status.eval_stopped": ("*Evaluation stopped: the adapter is kept; no answers to compare.*",
                                  "*Đã dừng đánh giá: adapter vẫn được giữ; không có câu trả lời nào để so sánh.*"),
    "train.status.evaluating": (
        "**Evaluating:** answering {done} / {total} · ETA {eta} — the base model (adapter off) and the adapted "
        "model answer the held-out prompts and the general-knowledge probes, in batches. *(Stop skips this.)*",
        "**Đang đánh giá:** đã trả lời {done} / {total} · còn khoảng {eta} — mô hình gốc (tắt adapter) và mô hình "
        "đã gắn adapter trả lời các prompt được giữ lại và các câu hỏi kiến thức phổ thông, theo từng lô. "
        "*(Bấm Dừng để bỏ qua bước này.)*",
    ),
    "train.eta_with_eval": ("{eta} (incl. evaluation)", "{eta} (cả đánh giá)"),
    "train.note.no_eval": (
        "This dataset has no eval split (too few rows to hold any out): only the general-knowledge probes are "
        "compared before and after.",
        "Bộ dữ liệu này không có tập đánh giá (quá ít dòng để giữ lại): chỉ các câu hỏi kiến thức phổ thông được "
        "so sánh trước và sau.",
    ),
    "train.col.step": ("step", "bước"),
    "train.col.loss": ("loss", "loss"),
    "train.col.lr": ("learning rate", "tốc độ học"),
    "train.col.tokens_s": ("tokens / s", "token/giây"),
    "train.col.elapsed": ("elapsed", "đã chạy"),
    "train.col.eta": ("ETA", "còn lại"),
    "train.col.memory": ("memory in use", "bộ nhớ"),
    "train.fig.title": ("Training loss, live", "Loss trong lúc huấn luyện"),
    "train.fig.xlabel": ("optimizer step", "bước tối ưu (optimizer step)"),
    "train.fig.ylabel": ("loss (nats per trained token)", "loss (nats / token được tính loss)"),
    "train.fig.empty": ("The loss of each step appears here once training starts.",
                        "Loss của từng bước sẽ hiện ở đây khi bắt đầu huấn luyện."),
    # before and after
    "train.heading.before_after": ("### Before and after: held-out prompts (the `eval` split, never trained on)",
                                   "### Trước và sau: các prompt được giữ lại (tập `eval`, chưa từng được huấn luyện)"),
    "train.answers": ("Answers (✓ = shows the behaviour)", "Câu trả lời (✓ = thể hiện hành vi)"),
    "train.forgetting": ("Forgetting check (✓ = still correct)", "Kiểm tra quên kiến thức (✓ = vẫn đúng)"),
    "train.col.prompt": ("held-out prompt", "prompt được giữ lại"),
    "train.col.base": ("base model (before)", "mô hình gốc (trước)"),
    "train.col.this_run": ("after — this run", "sau — lượt này"),
    "train.col.previous_none": ("after — previous run (none yet)", "sau — lượt trước (chưa có)"),
    "train.col.after_run": ("after — {label}", "sau — {label}"),
    "train.col.other_prompts": (" (other prompts)", " (prompt khác)"),
    "train.col.question": ("general-knowledge question", "câu hỏi kiến thức phổ thông"),
    "train.col.before": ("before", "trước"),
    "train.col.after": ("after", "sau"),
    "train.col.change": ("change", "thay đổi"),
    "train.change.forgotten": ("forgotten", "đã quên"),
    "train.change.regained": ("regained", "nhớ lại"),
    "train.summary.explain": (
        "**Behaviour score** = share of the {n} held-out prompts whose answer shows the behaviour ({behaviour}), "
        "is no repetition loop and addresses the prompt. **Forgetting check** = general-knowledge probes answered "
        "correctly (the right fact, no competing one). **General-text loss** = mean next-token cross-entropy "
        "(nats / token) on a plain-English passage the base model knows; a rise means the adapter changed "
        "ordinary text too.",
        "**Điểm hành vi** = tỉ lệ trong {n} prompt được giữ lại có câu trả lời thể hiện hành vi ({behaviour}), "
        "không lặp vòng và đúng vào câu hỏi. **Kiểm tra quên kiến thức cũ (catastrophic forgetting)** = số câu "
        "hỏi kiến thức phổ thông được trả lời đúng (đúng sự thật, không kèm một đáp án khác). **Loss trên văn bản "
        "thường** = cross-entropy trung bình của việc dự đoán token tiếp theo (nats / token) trên một đoạn văn "
        "tiếng Anh thông thường mà mô hình gốc đã biết; nếu nó tăng, adapter đã làm thay đổi cả văn bản thông "
        "thường.",
    ),
    "train.summary.head": (
        "**{label}**: probe accuracy {acc_before} → {acc_after} ({retained_before} → {retained_after}) · "
        "general-text loss {loss_before} → {loss_after} nats / token",
        "**{label}**: tỉ lệ trả lời đúng câu hỏi kiểm tra {acc_before} → {acc_after} ({retained_before} → "
        "{retained_after}) · loss trên văn bản thường {loss_before} → {loss_after} nats / token",
    ),
    "train.summary.base": ("base model (no adapter)", "mô hình gốc (không adapter)"),
    "train.col.run": ("run", "lượt"),
    "train.col.behaviour": ("behaviour score", "điểm hành vi"),
    "train.col.forgetting": ("forgetting check", "kiểm tra quên"),
    "train.col.general_loss": ("general-text loss", "loss văn bản thường"),
    "train.col.final_loss": ("final loss", "loss cuối"),
    "train.col.steps": ("steps", "bước"),
    "train.col.train_time": ("training time", "thời gian"),
    "train.col.adapter": ("adapter", "adapter"),
    # the adapter and the export
    "train.heading.adapter": ("### The adapter", "### Adapter"),
    "train.adapter.file": ("Download the adapter (zip)", "Tải về adapter (zip)"),
    "train.adapter.none": ("Train a run to get its adapter.", "Hãy huấn luyện một lượt để có adapter của nó."),
    "train.sizes": (
        "**Adapter files: {files:.1f} MB on disk** (peft format: `adapter_model.safetensors` {adapter:.1f} MB + "
        "`adapter_config.json`) · **zip download: {zip:.1f} MB** (compressed) · base model: {disk}{memory:,.0f} MB "
        "in memory ({stored}). Share the adapter, not the model: it is {share:.1f} % of the base's size. "
        "*1 MB = 2²⁰ bytes here, as the download box counts.*",
        "**Các tệp adapter: {files:.1f} MB trên đĩa** (định dạng peft: `adapter_model.safetensors` {adapter:.1f} MB "
        "+ `adapter_config.json`) · **tệp zip tải về: {zip:.1f} MB** (đã nén) · mô hình gốc: {disk}{memory:,.0f} MB "
        "trong bộ nhớ ({stored}). Hãy chia sẻ adapter thay vì cả mô hình: nó chỉ bằng {share:.1f} % kích thước mô "
        "hình gốc. *Ở đây 1 MB = 2²⁰ byte, đúng như ô tải về tính.*",
    ),
    "train.sizes.disk": ("{mb:,.0f} MB on disk (fp32 safetensors) · ", "{mb:,.0f} MB trên đĩa (safetensors fp32) · "),
    "train.export.title": ("Export as a TRL SFTTrainer script (for more GPUs: accelerate launch)",
                           "Xuất thành script TRL SFTTrainer (để chạy trên nhiều GPU: accelerate launch)"),
    "train.export.button": ("Export these settings", "Xuất các thiết lập này"),
    "train.export.bundle": ("Script + training data (zip)", "Script + dữ liệu huấn luyện (zip)"),
    # the upload check
    "train.upload.bad": ("⚠️ **{name} cannot be used:** {error}", "⚠️ **Không dùng được {name}:** {error}"),
    "train.upload.no_eval": (
        "✓ **{name}**: {rows:,} rows, all to train on. ⚠️ **Too few rows for an eval split**: one row in ten is "
        "held out, so at least 10 rows are needed. After training there are no held-out prompts to compare before "
        "and after (so no behaviour score) — only the general-knowledge probes.",
        "✓ **{name}**: {rows:,} dòng, tất cả để huấn luyện. ⚠️ **Quá ít dòng để có tập đánh giá**: cứ mười dòng "
        "giữ lại một, nên cần ít nhất 10 dòng. Sau khi huấn luyện sẽ không có prompt được giữ lại để so sánh trước "
        "và sau (nên không có điểm hành vi) — chỉ có các câu hỏi kiến thức phổ thông.",
    ),
    "train.upload.ok": ("✓ **{name}**: {rows:,} rows — {train:,} to train on, {held_out:,} held out as its eval split.",
                        "✓ **{name}**: {rows:,} dòng — {train:,} dòng để huấn luyện, {held_out:,} dòng giữ lại làm "
                        "tập đánh giá."),
}

ERRORS = {
    # lab.training: why a run stopped, its notes, its labels
    "train.reason.user": "Người dùng đã dừng",
    "train.reason.cap": "Đã dừng ở giới hạn thời gian {s:.0f} giây",
    "train.stopped_while": "{reason} khi đang {doing}.",
    "train.doing.reading": "đọc dữ liệu",
    "train.doing.loading": "nạp mô hình",
    "train.doing.tokenizing": "tách token dữ liệu ({i:,} / {n:,} mẫu)",
    "train.stop.before": "Đã dừng trước khi bắt đầu huấn luyện.",
    "train.stop.no_step": "{why} Chưa huấn luyện bước nào.",
    "train.stop.interrupted": "Bị ngắt sau {done} / {steps} bước.",
    "train.stop.user": "Người dùng đã dừng sau {done} / {steps} bước.",
    "train.stop.cap": "Đã dừng ở giới hạn thời gian {s:.0f} giây sau {done} / {steps} bước.",
    "train.stop.finished": "Đã xong {steps} bước.",
    "train.note.dropped": "{n} mẫu không có token nào được tính loss trong {max_len} token đầu và đã bị bỏ qua.",
    "train.note.full": ("{name}: tinh chỉnh toàn bộ, huấn luyện cả {total:,} tham số (trọng số, gradient và trạng "
                        "thái AdamW ở fp32), phép nhân ma trận ở {matmuls}."),
    "train.note.lora": ("{name}: mô hình gốc lưu ở {stored}, phép nhân ma trận ở {matmuls}; {trainable:,} tham số "
                        "LoRA huấn luyện được ({pct:.2f} % của {total:,} giá trị được lưu)."),
    "train.note.examples": "{n} mẫu huấn luyện, {m} mẫu đánh giá được giữ riêng.",
    "train.note.paged": ("Bộ tối ưu: AdamW 8 bit phân trang (bitsandbytes): trạng thái của nó nằm trong bộ nhớ hợp "
                         "nhất (unified memory) của CUDA và được chuyển sang RAM của CPU nếu GPU hết chỗ."),
    "train.note.adamw": ("Bộ tối ưu: AdamW (trạng thái fp32). Bộ tối ưu phân trang không áp dụng trên CPU: phân "
                         "trang chuyển trạng thái bộ tối ưu qua lại giữa bộ nhớ GPU và CPU, còn ở đây mọi thứ vốn "
                         "đã nằm trong RAM của CPU."),
    "train.example": "Mẫu huấn luyện {i}: {why}",
    "train.no_trained_token": ("Không mẫu nào có token được tính loss trong độ dài tối đa {max_len}: hãy tăng nó "
                               "hoặc chọn chế độ che loss khác."),
    "train.no_layer": "Mô hình không có lớp tuyến tính nào tên {missing}; hãy chọn trong số: {present}.",
    "train.loss_not_finite": "Loss đã thành {value} ở bước {step}: hãy giảm tốc độ học.",
    "train.label.run": "lượt {n}: {parts}",
    "train.label.same": "lượt {n}: cùng thiết lập",
    "train.label.upload": "tệp tải lên",
    "train.label.full": "tinh chỉnh toàn bộ",
    "train.label.unquantized": "không lượng tử hoá",
    "train.label.steps": "{n} bước",
    "train.label.batch": "lô {n}",
    "train.label.max_len": "độ dài tối đa {n}",
    "train.label.masking": "che loss kiểu {mode}",
    "train.label.seed": "seed {n}",
    # lab.evaluation and lab.multitask: the judge's reasons
    "judge.empty": "câu trả lời trống",
    "judge.repetition": "lặp lại: '{gram}' ×{k}",
    "judge.few_words": "quá ít từ khác nhau ({pct:.0f} %)",
    "judge.off_prompt": "không trả lời đúng câu hỏi",
    "judge.markers": "dấu hiệu cướp biển: {found}",
    "judge.no_markers": "không có dấu hiệu cướp biển",
    "judge.one_marker": "chỉ có một dấu hiệu cướp biển ({marker})",
    "judge.not_json": 'không phải JSON {{"answer": ..., "confidence": 0-1}}',
    "judge.json_shape": "đúng dạng JSON (confidence {c:g})",
    "judge.pirate": "trả lời bằng giọng cướp biển và đúng câu hỏi",
    "judge.json": 'trả lời dạng {{"answer": ..., "confidence": ...}} và đúng câu hỏi',
    "judge.none": "không có điểm hành vi cho bộ dữ liệu tải lên",
    "judge.no_tag": "không mở đầu bằng {tag}",
    "judge.tag": "mở đầu bằng {tag}",
    "judge.multitask": "mở đầu bằng [OK] và trả lời đúng câu hỏi",
    "probe.missing": "không có {answer!r}",
    "probe.says": "nói {what}",
    "probe.but_also": "{found!r} nhưng cũng nói {rivals}",
    "train.method": "method phải là qlora, lora hoặc full, không phải {value!r}.",
    "train.qlora_unquantized": (
        "QLoRA huấn luyện LoRA trên mô hình gốc 4 bit: hãy đặt quantization là nf4 hoặc fp4 (hoặc auto), "
        "hoặc chọn method lora."),
    "export.full": "Bản xuất viết một script LoRA hoặc QLoRA; tinh chỉnh toàn bộ không được xuất.",
    # the tab's own sentences (lab.ui.training.Settings)
    "train.error.fill_in": "Hãy điền tốc độ học và seed.",
    "train.error.targets_list": "Các lớp được gắn LoRA phải là một danh sách tên mô-đun, ví dụ ['q_proj', 'v_proj'].",
    "train.error.upload_first": "Hãy tải lên một tệp dữ liệu trước, hoặc chọn một bộ dữ liệu đi kèm.",
    # field names (lab.checks.field)
    "field.base_model_storage": "Cách lưu mô hình gốc",
    "field.each_target_module": "Mỗi lớp được gắn LoRA",
    "field.lora_rank_r": "Hạng r của LoRA",
    "field.lora_alpha": "Hệ số alpha của LoRA",
    "field.lora_dropout": "Dropout của LoRA",
    "field.learning_rate": "Tốc độ học",
    "field.steps": "Số bước",
    "field.batch_size": "Kích thước lô",
    "field.max_length": "Độ dài tối đa",
    "field.loss_masking": "Che loss",
    "field.seed": "Seed",
    "field.dataset": "Bộ dữ liệu",
}
