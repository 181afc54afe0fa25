"""Catalog: the NF4 explorer tab."""

STRINGS = {
    "nf4.explain.levels": (
        """### QLoRA stores the frozen model in 4 bits
QLoRA (Dettmers et al. 2023) trains LoRA adapters on top of a base model **quantized to 4 bits**,
so that large models fine-tune on one GPU. Each weight matrix is cut into **blocks of 64** values;
a block keeps its **absmax** (largest |w|, fp32) and each weight keeps only the 4-bit **code** of
the level nearest to `w / absmax`:

`w ≈ level[code] × absmax`

**NF4 (4-bit NormalFloat)** places its 16 levels at **quantiles of a standard normal**: pre-trained
weights are roughly normal, so each level gets about the same share of the weights. The quantiles
use probabilities from 0.9677 down to 0.5 (the offset 0.9677083 is bitsandbytes' choice), with
8 levels above 0 and 7 below, so that **0 is exact**, then everything is divided by the largest
(so the ends are ±1). FP4 (a tiny float) and INT4 (a uniform grid) spend their levels less well on
bell-shaped data.""",
        """### QLoRA lưu mô hình bị đóng băng trong 4 bit
QLoRA (Dettmers và cộng sự, 2023) huấn luyện các adapter LoRA trên một mô hình gốc **đã lượng tử hoá
xuống 4 bit**, nhờ vậy mô hình lớn có thể tinh chỉnh trên một GPU. Mỗi ma trận trọng số được cắt thành
các **khối 64** giá trị; mỗi khối giữ **hằng số lượng tử hoá (absmax)** của nó (|w| lớn nhất, fp32), còn
mỗi trọng số chỉ giữ **mã** 4 bit của mức gần `w / absmax` nhất:

`w ≈ level[code] × absmax`

**NormalFloat 4-bit (NF4)** đặt 16 mức của nó tại các **phân vị của phân phối chuẩn tắc**: trọng số đã
tiền huấn luyện có phân phối gần chuẩn, nên mỗi mức nhận một phần trọng số xấp xỉ như nhau. Các phân vị
dùng xác suất từ 0,9677 xuống 0,5 (độ lệch 0.9677083 là lựa chọn của bitsandbytes), với 8 mức trên 0 và
7 mức dưới 0, để **0 được biểu diễn chính xác**, rồi tất cả được chia cho mức lớn nhất (nên hai đầu là
±1). FP4 (một số thực dấu phẩy động tí hon) và INT4 (lưới đều) dùng các mức của chúng kém hiệu quả hơn
trên dữ liệu hình chuông.""",
    ),
    "nf4.explain.dq": (
        """### Double quantization: quantizing the quantization constants
One fp32 absmax per 64 weights costs **32 / 64 = 0.5 bits per weight**. QLoRA quantizes those
constants again: the absmax values minus their mean are stored in **8 bits, in blocks of 256**,
plus one fp32 scale per 256 blocks:

| | bits per weight |
|---|---|
| 4-bit codes + fp32 absmax | 4 + 32/64 = **4.5** |
| + double quantization | 4 + 8/64 + 32/(64·256) ≈ **4.127** |

That saves 0.373 bits per parameter, about **3 GB on a 65B model**. The paper says the second
quantization uses "8-bit floats"; the code (bitsandbytes) uses its 8-bit **dynamic map**: a sign
bit, a variable-length exponent (10⁻⁶ … 10⁰) and a linear fraction. On the CPU bitsandbytes finds
the 8-bit code through a 65,536-point grid, and this lab does the same, byte for byte.""",
        """### Lượng tử hoá kép (double quantization): lượng tử hoá cả các hằng số lượng tử hoá
Một absmax fp32 cho mỗi 64 trọng số tốn **32 / 64 = 0,5 bit cho mỗi trọng số**. QLoRA lượng tử hoá
các hằng số đó thêm một lần nữa: các giá trị absmax trừ đi trung bình của chúng được lưu bằng **8 bit,
theo khối 256**, cộng thêm một hệ số fp32 cho mỗi 256 khối:

| | bit cho mỗi trọng số |
|---|---|
| mã 4 bit + absmax fp32 | 4 + 32/64 = **4.5** |
| + lượng tử hoá kép | 4 + 8/64 + 32/(64·256) ≈ **4.127** |

Như vậy tiết kiệm 0,373 bit cho mỗi tham số, khoảng **3 GB với mô hình 65B**. Bài báo nói lần lượng tử
hoá thứ hai dùng "số thực 8 bit"; còn mã nguồn (bitsandbytes) dùng **bảng động (dynamic map)** 8 bit:
một bit dấu, một phần mũ có độ dài thay đổi (10⁻⁶ … 10⁰) và một phần định trị tuyến tính. Trên CPU,
bitsandbytes tìm mã 8 bit qua một lưới 65.536 điểm, và lab này làm y hệt, đúng đến từng byte.""",
    ),
    "nf4.explain.loss": (
        """### What 4 bits do to the model
The SFT loss (mean next-token loss on the reply) of the bundled model on the first rows of the
*pirate* set: in fp32; with every decoder weight replaced by its NF4 + DQ round trip computed by
`lab.nf4` (fp32 arithmetic: the weight error alone); and the real bitsandbytes 4-bit model that
QLoRA trains (its arithmetic in the compute dtype). QLoRA then trains LoRA adapters in 16 bits on
top of the frozen 4-bit weights, and can win back part of this loss. Small models lose more than large
ones: the QLoRA paper finds NF4 + DQ matches 16-bit fine-tuning from 7B to 65B parameters.""",
        """### 4 bit ảnh hưởng đến mô hình thế nào
Loss SFT (loss dự đoán token tiếp theo trung bình trên câu trả lời) của mô hình đi kèm trên các dòng
đầu của bộ *pirate*: ở fp32; khi mọi trọng số của các lớp decoder được thay bằng bản đi-rồi-về NF4 + DQ
do `lab.nf4` tính (số học fp32: chỉ riêng sai số của trọng số); và mô hình 4 bit thật của bitsandbytes
mà QLoRA huấn luyện (số học theo kiểu dữ liệu tính toán). Sau đó QLoRA huấn luyện các adapter LoRA
16 bit trên các trọng số 4 bit bị đóng băng, và có thể lấy lại một phần loss này. Mô hình nhỏ mất nhiều
hơn mô hình lớn: bài báo QLoRA thấy NF4 + DQ ngang với tinh chỉnh 16 bit từ 7B đến 65B tham số.""",
    ),
    "nf4.levels.label": ("NF4, FP4 and INT4 levels", "Các mức của NF4, FP4 và INT4"),
    "nf4.levels.table": ("The 16 levels by code", "16 mức theo mã"),
    "nf4.heading.quantize": ("### Quantize a tensor", "### Lượng tử hoá một tensor"),
    "nf4.heading.sweep": ("### NF4 vs FP4 vs INT4 across block sizes",
                          "### NF4, FP4 và INT4 với các kích thước khối"),
    "nf4.heading.memory": ("#### Memory of the weights", "#### Bộ nhớ của trọng số"),
    "nf4.source": ("Tensor", "Tensor"),
    "nf4.source.weight": ("Model weight", "Trọng số của mô hình"),
    "nf4.source.synthetic": ("Synthetic", "Tự tạo (synthetic)"),
    "nf4.layer": ("Layer (model weight)", "Lớp (trọng số mô hình)"),
    "nf4.module": ("Module (model weight)", "Mô-đun (trọng số mô hình)"),
    "nf4.kind": ("Distribution (synthetic)", "Phân phối (tự tạo)"),
    "nf4.kind.normal": ("normal", "chuẩn (normal)"),
    "nf4.kind.uniform": ("uniform", "đều (uniform)"),
    "nf4.kind.heavy": ("heavy-tailed", "đuôi dày (heavy-tailed)"),
    "nf4.size": ("Values (synthetic)", "Số giá trị (tự tạo)"),
    "nf4.seed": ("Seed (synthetic)", "Seed (tự tạo)"),
    "nf4.blocksize": ("Block size", "Kích thước khối"),
    "nf4.qtype": ("4-bit type", "Kiểu 4 bit"),
    "nf4.dq": ("Double quantization", "Lượng tử hoá kép"),
    "nf4.block": ("Block to zoom into", "Khối cần phóng to"),
    "nf4.run": ("Quantize", "Lượng tử hoá"),
    "nf4.summary.empty": ("Pick a tensor and a block size, then press **Quantize**.",
                          "Chọn một tensor và kích thước khối, rồi bấm **Lượng tử hoá**."),
    "nf4.hist.label": ("Histogram with one block's levels", "Histogram cùng các mức của một khối"),
    "nf4.block_table": ("One block: values, codes, bytes", "Một khối: giá trị, mã, byte"),
    "nf4.sweep_table": ("Errors (same tensor)", "Sai số (cùng tensor)"),
    "nf4.sweep_plot": ("Errors against block size", "Sai số theo kích thước khối"),
    "nf4.billions": ("Model size (billions of parameters)", "Kích thước mô hình (tỉ tham số)"),
    "nf4.size_table": ("Computed for that size", "Tính cho kích thước đó"),
    "nf4.measure": ("Measure the bundled model (loads it in 4 bits)", "Đo mô hình đi kèm (nạp nó ở 4 bit)"),
    "nf4.bundled_table": ("Bundled model", "Mô hình đi kèm"),
    "nf4.rows": ("Dataset rows", "Số dòng dữ liệu"),
    "nf4.loss": ("Compare full precision and NF4", "So sánh độ chính xác đầy đủ và NF4"),
    "nf4.loss_table": ("SFT loss on the same rows", "Loss SFT trên cùng các dòng"),
    # columns
    "nf4.col.index": ("#", "#"),
    "nf4.col.input": ("input w", "w đầu vào"),
    "nf4.col.scaled": ("w / absmax", "w / absmax"),
    "nf4.col.code": ("code", "mã"),
    "nf4.col.byte": ("byte", "byte"),
    "nf4.col.nibble": ("nibble", "nibble"),
    "nf4.col.level": ("level", "mức"),
    "nf4.col.level_absmax": ("level × absmax", "mức × absmax"),
    "nf4.col.error": ("error", "sai số"),
    "nf4.col.type": ("type", "kiểu"),
    "nf4.col.blocksize": ("block size", "kích thước khối"),
    "nf4.col.bits": ("bits / weight", "bit / trọng số"),
    "nf4.col.mse": ("MSE", "MSE"),
    "nf4.col.max_error": ("max error", "sai số lớn nhất"),
    "nf4.col.sqnr": ("SQNR (dB)", "SQNR (dB)"),
    "nf4.col.sqnr_short": ("SQNR", "SQNR"),
    "nf4.col.stored": ("stored bytes", "số byte lưu"),
    "nf4.col.bits_weight": ("bits per weight", "bit cho mỗi trọng số"),
    "nf4.col.time": ("quantize + dequantize", "lượng tử hoá + giải lượng tử"),
    "nf4.col.format": ("format", "định dạng"),
    "nf4.col.how": ("how", "cách tính"),
    "nf4.col.mb": ("MB", "MB"),
    "nf4.col.gb": ("weights (GB)", "trọng số (GB)"),
    "nf4.col.bits_4bit": ("bits / 4-bit weight", "bit / trọng số 4 bit"),
    "nf4.col.model": ("model", "mô hình"),
    "nf4.col.sft_loss": ("SFT loss", "loss SFT"),
    "nf4.col.perplexity": ("perplexity", "perplexity"),
    "nf4.col.delta": ("Δ vs fp32", "Δ so với fp32"),
    "nf4.format.16bit": ("16-bit", "16 bit"),
    "nf4.format.nf4": ("NF4", "NF4"),
    "nf4.format.nf4_dq": ("NF4 + double quant", "NF4 + lượng tử hoá kép"),
    "nf4.how.16bit": ("computed: 2 bytes × parameters", "tính: 2 byte × số tham số"),
    "nf4.how.nf4": ("computed: one fp32 absmax per 64 weights", "tính: một absmax fp32 cho mỗi 64 trọng số"),
    "nf4.how.nf4_dq": ("measured: bitsandbytes tensors", "đo: các tensor của bitsandbytes"),
    "nf4.part.codes": ("4-bit codes", "mã 4 bit"),
    "nf4.part.absmax_codes": ("absmax codes (8-bit)", "mã absmax (8 bit)"),
    "nf4.part.absmax_scales": ("absmax scales (fp32)", "hệ số của absmax (fp32)"),
    "nf4.part.absmax_offset": ("absmax offset (fp32)", "độ lệch của absmax (fp32)"),
    "nf4.part.absmax": ("absmax (fp32)", "absmax (fp32)"),
    "nf4.nibble.high": ("high", "cao"),
    "nf4.nibble.low": ("low", "thấp"),
    # what the handlers write
    "nf4.described.weight": ("`{name}` of {model}", "`{name}` của {model}"),
    "nf4.described.synthetic": ("synthetic **{kind}** tensor (std ≈ {std}, seed {seed})",
                                "tensor tự tạo, phân phối **{kind}** (độ lệch chuẩn ≈ {std}, seed {seed})"),
    "nf4.summary": ("{label}: shape {shape}, **{n:,} values** in **{blocks:,} blocks** of {size}.",
                    "{label}: kích thước {shape}, **{n:,} giá trị** trong **{blocks:,} khối** {size} giá trị."),
    "nf4.block.header": (
        "**Block {block}** of {n:,} (values {start:,}–{end:,}{first}): absmax = **{absmax:.6g}**{rebuilt}, "
        "{used} of 16 codes used. Two codes per byte: the first value in the **high** nibble.",
        "**Khối {block}** trên {n:,} (giá trị {start:,}–{end:,}{first}): absmax = **{absmax:.6g}**{rebuilt}, "
        "dùng {used} trên 16 mã. Hai mã trong một byte: giá trị đầu tiên ở nibble **cao**.",
    ),
    "nf4.block.first": (", first {shown} of {size}", ", {shown} giá trị đầu trong {size}"),
    "nf4.block.rebuilt": (" (rebuilt from its 8-bit code)", " (dựng lại từ mã 8 bit của nó)"),
    "nf4.bundled.note": (
        "{params:.1f}M parameters, of which {quantized:.1f}M are in Linear layers (stored in 4 bits); the rest — "
        "mostly the {rest:,} embedding and norm values — stays 16-bit, which is why the whole model shrinks less "
        "than 4×. Measured parts: {parts}.",
        "{params:.1f} triệu tham số, trong đó {quantized:.1f} triệu nằm trong các lớp Linear (lưu ở 4 bit); phần "
        "còn lại — chủ yếu là {rest:,} giá trị của embedding và lớp chuẩn hoá — vẫn 16 bit, vì thế cả mô hình "
        "nhỏ đi chưa tới 4 lần. Các phần đo được: {parts}.",
    ),
    "nf4.loading": ("Loading: {name}", "Đang nạp: {name}"),
    "nf4.scoring": ("Scoring row {k} of {n}: {name}", "Đang chấm dòng {k} / {n}: {name}"),
    "nf4.done": ("Done", "Xong"),
    "nf4.model.fp32": ("full precision (fp32)", "độ chính xác đầy đủ (fp32)"),
    "nf4.model.lab_nf4": ("NF4 + DQ weights via lab.nf4 (fp32 arithmetic)",
                          "trọng số NF4 + DQ qua lab.nf4 (số học fp32)"),
    "nf4.model.bnb_nf4": ("NF4 + DQ via bitsandbytes ({dtype} arithmetic)",
                          "NF4 + DQ qua bitsandbytes (số học {dtype})"),
    # figures
    "nf4.fig.levels.title": ("The 16 levels of NF4, FP4 and INT4 (value / block absmax)",
                             "16 mức của NF4, FP4 và INT4 (giá trị / absmax của khối)"),
    "nf4.fig.levels.density": ("N(0, 1) rescaled to the NF4 range", "N(0, 1) co giãn về khoảng của NF4"),
    "nf4.fig.levels.nf4": ("NF4 levels (normal quantiles)", "các mức NF4 (phân vị chuẩn)"),
    "nf4.fig.levels.ylabel": ("density (per unit)", "mật độ (trên một đơn vị)"),
    "nf4.fig.levels.fp4": ("FP4 (1 sign, 2 exponent, 1 mantissa bit)", "FP4 (1 bit dấu, 2 bit mũ, 1 bit định trị)"),
    "nf4.fig.levels.int4": ("INT4 (uniform, k / 7)", "INT4 (đều, k / 7)"),
    "nf4.fig.levels.distinct": ("{name}: {n} distinct levels", "{name}: {n} mức khác nhau"),
    "nf4.fig.levels.xlabel": ("level (fraction of the block's absmax, unitless)",
                              "mức (tỉ lệ so với absmax của khối, không đơn vị)"),
    "nf4.fig.hist.title": ("{qt} levels of block {block} over all values (block size {size})",
                           "Các mức {qt} của khối {block} trên mọi giá trị (kích thước khối {size})"),
    "nf4.fig.hist.all": ("all {n:,} values", "tất cả {n:,} giá trị"),
    "nf4.fig.hist.levels": ("{qt} levels × absmax of block {block}", "các mức {qt} × absmax của khối {block}"),
    "nf4.fig.hist.block": ("values of block {block}", "giá trị của khối {block}"),
    "nf4.fig.hist.outliers": ("{n:,} outliers beyond the axes", "{n:,} giá trị ngoại lai nằm ngoài trục"),
    "nf4.fig.hist.xlabel": ("weight value (unitless)", "giá trị trọng số (không đơn vị)"),
    "nf4.fig.hist.ylabel": ("values per bin (count)", "số giá trị mỗi cột (đếm)"),
    "nf4.fig.sweep.title": ("NF4 vs FP4 vs INT4 on {n:,} values", "NF4, FP4 và INT4 trên {n:,} giá trị"),
    "nf4.fig.sweep.title_dq": ("NF4 vs FP4 vs INT4 on {n:,} values (double quant)",
                               "NF4, FP4 và INT4 trên {n:,} giá trị (lượng tử hoá kép)"),
    "nf4.fig.sweep.xlabel": ("block size (values per absmax)", "kích thước khối (số giá trị mỗi absmax)"),
    "nf4.fig.sweep.sqnr": ("SQNR (dB, higher is better)", "SQNR (dB, càng cao càng tốt)"),
    "nf4.fig.sweep.mse": ("mean squared error (value²)", "sai số bình phương trung bình (giá trị²)"),
}

ERRORS = {
    "nf4.bad_type": "Kiểu 4 bit phải là một trong: {types}; không phải {value}.",
    "nf4.bad_blocksize": "Kích thước khối phải là luỹ thừa của 2 từ 32 đến 4096 (32, 64, ..., 4096), không phải {value}.",
    "nf4.empty": "Không thể lượng tử hoá một tensor rỗng: nó không có giá trị nào để co giãn.",
    "nf4.not_finite": "Tensor có {bad} giá trị NaN hoặc vô cực. Chúng sẽ làm absmax của khối thành NaN hoặc vô cực và "
                      "mọi giá trị của khối đó thành NaN; hãy bỏ hoặc thay chúng trước.",
    "nf4.bad_format": "Định dạng phải là một trong: {formats}; không phải {value}.",
    # field names (lab.checks.field)
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
    "field.the_block_index": "Chỉ số khối",
    "field.the_model_size_billions_of_parameters": "Kích thước mô hình (tỉ tham số)",
    "field.the_number_of_dataset_rows": "Số dòng dữ liệu",
}
