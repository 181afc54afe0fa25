"""Catalog: the LoRA calculator tab, and the sentences of lab.lora (its architectures, targets, counts, memory)."""

STRINGS = {
    "lora.explain.peft": (
        """### Why parameter-efficient fine-tuning (PEFT)
Full fine-tuning is expensive: GPU memory must hold the **weights**, their **gradients** and the
**optimizer states** — Adam keeps two more numbers per parameter — several times the model's size.
PEFT updates only a small part of the parameters, or adds small modules, and **freezes the rest**:
far less memory, less catastrophic forgetting of what the model knew, and adapters of a few tens of
MB to share instead of whole multi-GB models.""",
        """### Vì sao cần tinh chỉnh hiệu quả tham số (PEFT)
Tinh chỉnh toàn bộ (full fine-tuning) rất tốn kém: bộ nhớ GPU (VRAM) phải chứa **trọng số**, **gradient**
của chúng và **trạng thái bộ tối ưu (optimizer states)** — Adam giữ thêm hai số cho mỗi tham số — tổng
cộng gấp nhiều lần kích thước mô hình. PEFT chỉ cập nhật một phần nhỏ tham số, hoặc gắn thêm vài mô-đun
nhỏ, và **đóng băng phần còn lại**: tốn ít bộ nhớ hơn hẳn, ít quên kiến thức cũ (catastrophic
forgetting) hơn, và thay vì chia sẻ cả mô hình nặng nhiều GB, chỉ cần chia sẻ adapter (mô-đun nhỏ gắn
thêm) nặng vài chục MB.""",
    ),
    "lora.explain.lora": (
        """### LoRA (Hu et al. 2021)
Instead of updating a weight W (d_out × d_in), learn a low-rank update **ΔW = B A**, with B (d_out × r)
and A (r × d_in), r small (8, 16, 64): **W' = W + (α / r) · B A**. One matrix then trains
**r · (d_in + d_out)** numbers instead of d_in · d_out. B starts at zero, so training starts exactly
from the pre-trained model. On GPT-3 175B the paper trains **10,000× fewer parameters** with **3× less
GPU memory**, at a quality comparable to full fine-tuning. Every count below is what
`peft.get_peft_model` makes trainable — press *Check with peft* to see peft count it.""",
        """### Thích ứng hạng thấp (LoRA; Hu và cộng sự, 2021)
Thay vì cập nhật trực tiếp một trọng số W (d_out × d_in), ta học một cập nhật hạng thấp **ΔW = B A**, với
B (d_out × r) và A (r × d_in), hạng r (rank) nhỏ (8, 16, 64): **W' = W + (α / r) · B A**. Khi đó mỗi ma
trận chỉ huấn luyện **r · (d_in + d_out)** số thay vì d_in · d_out. B bắt đầu bằng 0, nên quá trình huấn
luyện xuất phát đúng từ mô hình đã tiền huấn luyện (pre-training). Với GPT-3 175B, bài báo huấn luyện **ít
hơn 10,000 lần số tham số** và dùng **ít hơn 3 lần bộ nhớ GPU**, mà chất lượng tương đương tinh chỉnh
toàn bộ. Mọi con số bên dưới đúng bằng những gì `peft.get_peft_model` cho huấn luyện — bấm *Kiểm tra
bằng peft* để xem chính peft đếm.""",
    ),
    "lora.explain.memory": (
        """### Memory for training
**Full fine-tuning** (16-bit): weights 2 B + gradients 2 B + Adam's two fp32 moments 8 B = **12 bytes
per parameter**. **LoRA** keeps the frozen base in 16 bits; only the adapter has gradients and Adam
states. **QLoRA** (Dettmers et al. 2023) stores the frozen base in **NF4 with double quantization:
{bits:.3f} bits per parameter**, with 16-bit adapters on top. For LLaMA-65B that is the paper's claim:
full 16-bit fine-tuning needs **more than 780 GB**, QLoRA fits on **one 48 GB GPU** (pick
*LLaMA-65B*, r = 64, all linear). Weights, gradients and optimizer states are exact; activations
(hatched) are an estimate that grows with batch × sequence length and shrinks with gradient
checkpointing; the overhead is an allowance for the CUDA context.""",
        """### Bộ nhớ để huấn luyện
**Tinh chỉnh toàn bộ** (16 bit): trọng số 2 B + gradient 2 B + hai moment fp32 của Adam 8 B = **12 byte
cho mỗi tham số**. **LoRA** giữ mô hình gốc (base model) bị đóng băng ở 16 bit; chỉ adapter mới có
gradient và trạng thái của Adam. **QLoRA** (Dettmers và cộng sự, 2023) lưu mô hình gốc bị đóng băng ở
**NF4 với lượng tử hoá kép (double quantization): {bits:.3f} bit cho mỗi tham số**, cùng các adapter
16 bit ở bên trên. Với LLaMA-65B, đó chính là điều bài báo khẳng định: tinh chỉnh toàn bộ ở 16 bit cần
**hơn 780 GB**, còn QLoRA vừa trên **một GPU 48 GB** (chọn *LLaMA-65B*, r = 64, *Mọi lớp tuyến tính*).
Trọng số, gradient và trạng thái bộ tối ưu là con số chính xác; giá trị kích hoạt (activations, phần gạch
chéo) là ước lượng, tăng theo lô × độ dài chuỗi và giảm khi bật gradient checkpointing; chi phí phụ
(overhead) là khoản dự phòng cho CUDA context.""",
    ),
    "lora.explain.four_bit": (
        """### Why a 4-bit model seems to have half its parameters
bitsandbytes stores a 4-bit weight as a flat `uint8` tensor holding **two 4-bit codes per byte**, so
`p.numel()` of a quantized weight counts *bytes*, half its real number of values. Summing `numel()`
over a 4-bit model therefore undercounts every quantized layer by half; peft
(`get_nb_trainable_parameters`) and transformers (`num_parameters`) multiply those tensors back by 2.""",
        """### Vì sao mô hình 4 bit trông như chỉ có một nửa số tham số
bitsandbytes lưu một trọng số 4 bit thành một tensor `uint8` phẳng chứa **hai mã 4 bit trong mỗi byte**,
nên `p.numel()` của một trọng số đã lượng tử hoá đếm *số byte*, tức một nửa số giá trị thật của nó. Vì
vậy, cộng `numel()` trên cả mô hình 4 bit sẽ đếm thiếu một nửa ở mọi lớp đã lượng tử hoá; peft
(`get_nb_trainable_parameters`) và transformers (`num_parameters`) nhân các tensor đó với 2 để bù lại.""",
    ),
    # the architecture
    "lora.source": ("Architecture from", "Lấy kiến trúc từ"),
    "lora.source.bundled": ("Bundled", "Có sẵn trong lab"),
    "lora.source.pasted": ("Pasted config.json", "Dán config.json"),
    "lora.source.hub": ("Hub id", "Hub id"),
    "lora.bundled": ("Bundled config (real config.json)", "Cấu hình có sẵn (config.json thật)"),
    "lora.bundled.lab_model": ("{name} (the lab's model)", "{name} (mô hình của lab)"),
    "lora.bundled.qlora_paper": ("{name} (QLoRA paper)", "{name} (bài báo QLoRA)"),
    "lora.pasted": ("config.json (click outside the box to use it)", "config.json (bấm ra ngoài ô để dùng)"),
    "lora.hub": ("Hub id (online only; only config.json is downloaded)",
                 "Hub id (chỉ khi có mạng; chỉ tải về config.json)"),
    "lora.hub.placeholder": ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B"),
    "lora.arch_info": ("**{name}** · `{model_type}` · {total:,} parameters · output layer `{output}`{tied}",
                       "**{name}** · `{model_type}` · {total:,} tham số · lớp đầu ra `{output}`{tied}"),
    "lora.arch_info.tied": (" (tied to the input embedding)", " (dùng chung trọng số với embedding đầu vào)"),
    # the adapter
    "lora.rank": ("rank r", "hạng r (rank)"),
    "lora.alpha": ("alpha (α; scale α / r — does not change the count)",
                   "alpha (α; hệ số α / r — không làm đổi số tham số)"),
    "lora.preset": ("Target modules", "Các lớp được gắn LoRA (target modules)"),
    "lora.preset.lora_paper": ("q, v (LoRA paper)", "q, v (bài báo LoRA)"),
    "lora.preset.attention": ("All attention", "Mọi lớp attention"),
    "lora.preset.all_linear": ("All linear", "Mọi lớp tuyến tính"),
    "lora.preset.pick": ("Pick modules", "Tự chọn lớp"),
    "lora.picked": ("Modules (for 'Pick modules')", "Các lớp (khi 'Tự chọn lớp')"),
    "lora.bias": ("bias", "bias"),
    "lora.dora": ("DoRA (adds a magnitude vector of d_out per matrix)",
                  "DoRA (thêm một vectơ độ lớn gồm d_out số cho mỗi ma trận)"),
    "lora.saved": ("modules_to_save (trained in full, e.g. embed_tokens, lm_head)",
                   "modules_to_save (huấn luyện toàn bộ, ví dụ embed_tokens, lm_head)"),
    "lora.code": ("The same adapter with peft", "Cùng adapter này, viết bằng peft"),
    "lora.check": ("Check with peft", "Kiểm tra bằng peft"),
    "lora.rank_plot": ("Trainable parameters against rank", "Tham số huấn luyện được theo hạng r"),
    "lora.table": ("Per module (layer index shown as *)", "Theo từng lớp (số thứ tự lớp thay bằng *)"),
    # the training step
    "lora.batch": ("batch size (sequences per step)", "kích thước lô (batch; số chuỗi mỗi bước)"),
    "lora.seq": ("sequence length (tokens)", "độ dài chuỗi (token)"),
    "lora.gc": ("gradient checkpointing (recompute activations in backward)",
                "gradient checkpointing (tính lại giá trị kích hoạt khi lan truyền ngược)"),
    "lora.precision": ("weights and activations", "trọng số và giá trị kích hoạt"),
    "lora.precision.16": ("16-bit (GPU)", "16 bit (GPU)"),
    "lora.precision.32": ("32-bit (this CPU)", "32 bit (CPU này)"),
    "lora.mem_plot": ("Memory", "Bộ nhớ"),
    "lora.mem_table": ("GB (10⁹ bytes)", "GB (10⁹ byte)"),
    "lora.four": ("Load the bundled model in 4-bit and count", "Nạp mô hình đi kèm ở 4 bit và đếm"),
    # what the handlers write
    "lora.wait.paste": ("Paste a config.json and click outside the box.",
                        "Hãy dán một config.json rồi bấm ra ngoài ô."),
    "lora.wait.hub": ("Type a Hub id (online only) and press Enter.",
                      "Hãy gõ một Hub id (chỉ khi có mạng) rồi nhấn Enter."),
    "lora.sum.trainable": ("Trainable parameters", "Tham số huấn luyện được"),
    "lora.sum.total": ("All parameters (base + adapter)", "Tất cả tham số (mô hình gốc + adapter)"),
    "lora.sum.share": ("Trainable share (peft's trainable%)", "Tỉ lệ huấn luyện được (trainable% của peft)"),
    "lora.sum.fewer": ("Fewer than full fine-tuning", "Ít hơn tinh chỉnh toàn bộ"),
    "lora.sum.adapted": ("Adapted matrices", "Số ma trận được gắn LoRA"),
    "lora.sum.adapted_value": ("{n:,} · rank {r} · scale α / r = {alpha:g} / {r} = {scale:.3g}",
                               "{n:,} · hạng {r} · hệ số α / r = {alpha:g} / {r} = {scale:.3g}"),
    "lora.sum.file16": ("Adapter file (fp16 / bf16)", "Tệp adapter (fp16 / bf16)"),
    "lora.sum.file32": ("Adapter file (fp32, peft's default)", "Tệp adapter (fp32, mặc định của peft)"),
    "lora.sum.parts": ("Trainable = {parts}.", "Huấn luyện được = {parts}."),
    "lora.sum.part.lora": ("LoRA {n:,}", "LoRA {n:,}"),
    "lora.sum.part.dora": ("DoRA magnitudes {n:,}", "độ lớn DoRA {n:,}"),
    "lora.sum.part.bias": ("biases {n:,}", "bias {n:,}"),
    "lora.sum.part.saved": ("modules_to_save copies {n:,}", "bản sao modules_to_save {n:,}"),
    "lora.col.module": ("module", "lớp"),
    "lora.col.role": ("role", "vai trò"),
    "lora.col.class": ("class", "class"),
    "lora.col.shape": ("shape (d_out × d_in)", "kích thước (d_out × d_in)"),
    "lora.col.count": ("×", "×"),
    "lora.col.each": ("params each", "tham số / lớp"),
    "lora.col.trainable_each": ("trainable each", "huấn luyện được / lớp"),
    "lora.col.trainable": ("trainable", "huấn luyện được"),
    "lora.col.term": ("term", "thành phần"),
    "lora.role.lora": ("LoRA", "LoRA"),
    "lora.role.dora": ("DoRA", "DoRA"),
    "lora.role.saved": ("saved in full", "lưu toàn bộ"),
    "lora.role.bias": ("bias", "bias"),
    "lora.method.full": ("Full fine-tuning", "Tinh chỉnh toàn bộ"),
    "lora.method.lora": ("LoRA", "LoRA"),
    "lora.method.qlora": ("QLoRA", "QLoRA"),
    "lora.term.weights": ("weights", "trọng số"),
    "lora.term.gradients": ("gradients", "gradient"),
    "lora.term.optimizer": ("optimizer", "bộ tối ưu"),
    "lora.term.activations": ("activations", "kích hoạt"),
    "lora.term.overhead": ("overhead", "chi phí phụ"),
    "lora.mem.exact": ("{name} (exact)", "{name} (chính xác)"),
    "lora.mem.estimate": ("{name} (estimate)", "{name} (ước lượng)"),
    "lora.mem.total": ("total", "tổng"),
    "lora.mem.fits": ("Fits on a GPU of (GB): {fits}.", "Vừa với GPU (GB): {fits}."),
    "lora.mem.none": ("none of them", "không GPU nào"),
    "lora.mem.kept": (
        "QLoRA stores {q:,} of the {total:,} parameters in NF4 (the weights of every Linear layer but the output "
        "layer); the other {rest:,} (embeddings, norms, output layer{moe}) stay 16-bit.",
        "QLoRA lưu {q:,} trong {total:,} tham số ở NF4 (trọng số của mọi lớp Linear trừ lớp đầu ra); {rest:,} "
        "tham số còn lại (embedding, các lớp chuẩn hoá, lớp đầu ra{moe}) vẫn ở 16 bit.",
    ),
    "lora.mem.kept_moe": (
        ", and the mixture-of-experts weights, which transformers 5 keeps as 3-D parameters that bitsandbytes "
        "does not quantize",
        ", và trọng số của các expert (mixture of experts), mà transformers 5 giữ thành tham số 3 chiều nên "
        "bitsandbytes không lượng tử hoá",
    ),
    "lora.check.col.trainable": ("trainable", "huấn luyện được"),
    "lora.check.col.total": ("all parameters", "tất cả tham số"),
    "lora.check.ours": ("this lab (arithmetic)", "lab này (tính toán)"),
    "lora.check.theirs": ("peft `get_nb_trainable_parameters()`", "peft `get_nb_trainable_parameters()`"),
    "lora.check.same": ("✓ Identical", "✓ Trùng khớp"),
    "lora.check.different": ("✗ Different — please report this", "✗ Khác nhau — xin hãy báo lại lỗi này"),
    "lora.check.done": (
        "**{verdict}.** peft wrapped the {name} model on the meta device (no memory used) in {s:.2f} s "
        "with `{config}`.",
        "**{verdict}.** peft đã bọc mô hình {name} trên thiết bị meta (không tốn bộ nhớ) trong {s:.2f} giây "
        "với `{config}`.",
    ),
    "lora.check.nothing": ("Nothing to check: the architecture did not load (the error message says why).",
                           "Không có gì để kiểm tra: kiến trúc chưa nạp được (thông báo lỗi cho biết lý do)."),
    "lora.four.prediction": (
        "For the bundled {name}: **{total:,}** parameters, of which **{q:,}** sit in the {layers} Linear layers "
        "that bitsandbytes quantizes (embeddings, norms and the tied output layer stay 16-bit). After a 4-bit "
        "load, `sum(p.numel())` should read {rest:,} + {q:,} / 2 = **{naive:,}**.",
        "Với mô hình {name} đi kèm: **{total:,}** tham số, trong đó **{q:,}** nằm trong {layers} lớp Linear mà "
        "bitsandbytes lượng tử hoá (embedding, các lớp chuẩn hoá và lớp đầu ra dùng chung trọng số vẫn ở 16 bit). "
        "Sau khi nạp ở 4 bit, `sum(p.numel())` sẽ cho {rest:,} + {q:,} / 2 = **{naive:,}**.",
    ),
    "lora.four.loading": ("Loading the bundled model in 4-bit (NF4); the first load quantizes it (~30 s)",
                          "Đang nạp mô hình đi kèm ở 4 bit (NF4); lần nạp đầu phải lượng tử hoá nó (~30 giây)"),
    "lora.four.col.count": ("count", "cách đếm"),
    "lora.four.col.params": ("parameters", "số tham số"),
    "lora.four.packed": ("… of which the {n} packed 4-bit weights (`Params4bit`, uint8)",
                         "… trong đó {n} trọng số 4 bit đã đóng gói (`Params4bit`, uint8)"),
    "lora.four.corrected": ("corrected: each `Params4bit` × 2 values per byte",
                            "đã hiệu chỉnh: mỗi `Params4bit` × 2 giá trị mỗi byte"),
    "lora.four.transformers": ("`model.num_parameters()` (transformers corrects too)",
                               "`model.num_parameters()` (transformers cũng hiệu chỉnh)"),
    "lora.four.missing": ("The naive sum misses {missing:,} parameters: exactly half of the {quantized:,} "
                          "quantized ones.",
                          "Phép cộng ngây thơ thiếu {missing:,} tham số: đúng một nửa của {quantized:,} tham số "
                          "đã lượng tử hoá."),
    # figures
    "lora.fig.rank.title": ("Trainable parameters against the rank — {name}",
                            "Tham số huấn luyện được theo hạng — {name}"),
    "lora.fig.rank.yours": ("your modules", "các lớp bạn chọn"),
    "lora.fig.rank.current": ("r={r}: {n}", "r={r}: {n}"),
    "lora.fig.rank.full": (" full fine-tuning: {n}", " tinh chỉnh toàn bộ: {n}"),
    "lora.fig.rank.xlabel": ("LoRA rank r (log scale)", "hạng r của LoRA (thang log)"),
    "lora.fig.rank.ylabel": ("trainable parameters (count, log scale)",
                             "tham số huấn luyện được (số lượng, thang log)"),
    "lora.fig.memory.title": ("Memory for one training step — {name}, {bits}-bit, batch {batch} × {seq}",
                              "Bộ nhớ cho một bước huấn luyện — {name}, {bits} bit, lô {batch} × {seq}"),
    "lora.fig.memory.estimate": ("{name} (estimate)", "{name} (ước lượng)"),
    "lora.fig.memory.gpu": ("{gb} GB GPU", "GPU {gb} GB"),
    "lora.fig.memory.zoom": ("zoom: 0–{gb:.0f} GB", "phóng to: 0–{gb:.0f} GB"),
    "lora.fig.memory.xlabel": ("training method", "cách huấn luyện"),
    "lora.fig.memory.ylabel": ("memory (GB, 10⁹ bytes)", "bộ nhớ (GB, 10⁹ byte)"),
}

ERRORS = {
    # field names (lab.checks.field), and two with codes of their own
    "field.the_rank_r": "Hạng r",
    "field.alpha": "alpha",
    "field.bias": "bias",
    "field.method": "method",
    "field.overhead_gb": "overhead_gb",
    "field.architecture_from": "Nguồn kiến trúc",
    "field.the_pasted_config_json": "config.json đã dán",
    "field.the_hub_id": "Hub id",
    "field.bundled_config": "Cấu hình có sẵn",
    "field.target_modules": "Các lớp được gắn LoRA",
    "field.weights_and_activations": "Độ chính xác của trọng số và giá trị kích hoạt",
    "field.modules": "Danh sách lớp",
    "field.modules_to_save": "modules_to_save",
    "lora.field.batch": "Kích thước lô",
    "lora.field.seq_len": "Độ dài chuỗi",
    # lab.lora.architectures
    "lora.arch.unknown_bundled": "Không có kiến trúc có sẵn nào tên {name!r}. Hãy chọn một trong: {names}.",
    "lora.arch.paste_first": "Hãy dán nội dung của một config.json (một đối tượng JSON) trước.",
    "lora.arch.too_long": "config.json này dài {n:,} ký tự; một tệp thật chỉ vài nghìn ký tự.",
    "lora.arch.json_too_deep": "JSON này lồng nhau sâu hơn {depth} cấp; một config.json thật chỉ sâu 3 hoặc 4 cấp.",
    "lora.arch.not_json": "config.json đã dán không phải JSON hợp lệ: {reason} ở dòng {line}, cột {column}.",
    "lora.arch.not_object": "Một config.json chứa một đối tượng JSON ({{...}}), không phải một danh sách hay một "
                            "giá trị đơn lẻ.",
    "lora.json.value": "thiếu một giá trị",
    "lora.json.comma": "thiếu dấu phẩy ','",
    "lora.json.colon": "thiếu dấu hai chấm ':'",
    "lora.json.property": "tên thuộc tính phải nằm trong dấu ngoặc kép",
    "lora.json.unterminated": "chuỗi chưa đóng ngoặc kép, bắt đầu",
    "lora.json.extra": "thừa dữ liệu phía sau",
    "lora.arch.not_hub_id": "{repo_id!r} không phải Hub id của mô hình; nó có dạng 'organisation/model-name'.",
    "lora.arch.offline": "Ở đây Hub đang ngoại tuyến (HF_HUB_OFFLINE=1), nên không tải được {repo_id!r}: hãy dán "
                         "config.json của nó, hoặc chọn một kiến trúc có sẵn.",
    "lora.arch.download": "Không tải được config.json của {repo_id!r}: {kind}: {error}",
    "lora.arch.no_model_type": 'Cấu hình không có "model_type" (ví dụ "llama"), nên transformers không biết phải '
                               "dựng mô hình nào.",
    "lora.arch.unknown_type": "transformers {version} không biết loại mô hình {model_type!r} (hãy so cách viết với "
                              "config.json của mô hình).",
    "lora.arch.unreadable": "transformers không đọc được cấu hình {model_type!r} này: {error}",
    "lora.arch.no_source": "Hãy đưa vào tên một kiến trúc có sẵn, một dict cấu hình, nội dung config.json hoặc "
                           "một Hub id.",
    "lora.arch.unknown_source": "{text!r} không phải kiến trúc có sẵn ({names}) cũng không phải Hub id dạng "
                                "'org/model'.",
    "lora.arch.config_too_deep": "Cấu hình lồng nhau sâu hơn {depth} cấp; một config.json thật chỉ sâu 3 hoặc 4 cấp.",
    "lora.arch.too_wide": "{path}={value:,} rộng hơn mọi mô hình thật; máy tính LoRA dừng ở {cap:,}.",
    "lora.arch.too_many": "{path}={value:,} là nhiều {what} hơn mọi mô hình thật; máy tính LoRA dừng ở {cap:,}.",
    "lora.arch.what.vocab": "mục từ vựng",
    "lora.arch.what.layers": "lớp",
    "lora.arch.what.experts": "expert",
    "lora.arch.what.heads": "đầu attention",
    "lora.arch.too_many_modules": "Cấu hình này dựng hơn {n:,} mô-đun; máy tính LoRA dừng ở đó.",
    "lora.arch.too_slow": "Dựng cấu hình này mất hơn {s:g} giây; máy tính LoRA dừng ở đó.",
    "lora.arch.not_causal": "transformers không dựng được mô hình ngôn ngữ nhân quả (causal LM) từ model_type "
                            "{model_type!r} (đây là encoder, mô hình thị giác, hay mô hình cần chạy mã từ xa?).",
    "lora.arch.build_failed": "transformers không dựng được cấu hình này: {error}",
    # lab.lora.targets
    "lora.targets.no_qv": "Không tìm thấy phép chiếu query/value nào trong {arch}; hãy chọn lớp theo tên.",
    "lora.targets.no_attention": "Không có lớp tuyến tính nào nằm trong khối attention của {arch}; hãy chọn lớp "
                                 "theo tên.",
    "lora.targets.unknown_preset": "Không có lựa chọn sẵn {preset!r}; hãy chọn một trong {names}.",
    "lora.targets.none": "Hãy chọn ít nhất một lớp để gắn LoRA (hoặc một lựa chọn sẵn).",
    "lora.targets.not_a_name": "{name!r} không phải tên một lớp.",
    "lora.targets.no_saved_module": "modules_to_save: {arch} không có lớp nào tên {name!r}. Các tên hợp lệ: {valid}.",
    "lora.targets.bad_regex": "target_modules {targets!r} không phải biểu thức chính quy hợp lệ: {error}.",
    "lora.targets.no_module": "{arch} không có lớp nào tên {name!r}. Các tên hợp lệ: {valid}.",
    "lora.targets.not_adaptable": "{module} là một {cls}, không phải lớp mà LoRA gắn được (Linear, Conv1D hoặc "
                                  "Embedding). Các tên hợp lệ của {arch}: {valid}.",
    "lora.targets.all_saved": "Mọi lớp được chọn đều nằm cả trong modules_to_save, nên không lớp nào được gắn "
                              "adapter LoRA.",
    "lora.targets.no_match": "target_modules {targets!r} không khớp lớp nào của {arch}. Các tên hợp lệ: {valid}.",
    "lora.targets.saved_and_adapted": "Mục modules_to_save khớp với {name!r} cũng là một lớp được gắn LoRA; hãy "
                                      "ghi tên cả mô-đun (ví dụ 'lm_head', 'embed_tokens').",
    "lora.targets.nested_saved": "modules_to_save có cả {outer!r} lẫn {inner!r}, mà lớp sau nằm trong lớp trước; "
                                 "chỉ giữ {outer!r}.",
    # lab.lora.counts
    "lora.count.dora_fused": "DoRA không gắn được vào tham số expert gộp (ParamWrapper của peft không có DoRA): "
                             "hãy tắt DoRA hoặc chỉ chọn các lớp attention.",
    "lora.count.peft_refused": "peft từ chối cấu hình này: {error}",
    # lab.lora.memory
    "lora.memory.precision": "{name} phải là 16 hoặc 32 (bit), không phải {value!r}.",
    "lora.memory.no_dims": "Cấu hình này không có kích thước ẩn / số lớp / số đầu attention để ước lượng.",
    "lora.how.all_params": "{b} B × {n:,} tham số",
    "lora.how.trainable": "{b} B × {n:,} tham số huấn luyện được",
    "lora.how.adapter": "adapter {ab} B × {n:,}{saved}",
    "lora.how.saved": " + bản sao {b} B × {n:,}",
    "lora.how.frozen": "mô hình gốc đóng băng {b} B × {n:,} + {extra}",
    "lora.how.nf4": "NF4 {bits:.3f} bit × {q:,} + {b} B × {rest:,} không lượng tử hoá + {extra}",
    "lora.how.adapter_grads": "{ab} B × {n:,} của adapter{others}",
    "lora.how.activations_gc": "lô {batch} × {seq} token, có gradient checkpointing",
    "lora.how.activations": "lô {batch} × {seq} token, không gradient checkpointing",
    "lora.how.adam": "m và v của AdamW: {bytes} B × {n:,} tham số huấn luyện được",
    "lora.how.overhead": "CUDA context và bộ nhớ đệm của bộ cấp phát (dự phòng)",
    # the tab's own checks
    "lora.err.pick_one": "Hãy chọn ít nhất một lớp của {arch} (hoặc một lựa chọn sẵn).",
    "lora.err.not_a_list": "{name} phải là một danh sách tên lớp, không phải {kind}.",
    "lora.err.too_many_names": "{name} có {n:,} tên; giới hạn là {limit:,}.",
    "lora.err.no_arch": "Hãy chọn một kiến trúc trước.",
}
