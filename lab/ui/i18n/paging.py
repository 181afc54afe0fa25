"""Catalog: the paged-optimizer panel of the Experiments tab (and the sentences of ``lab.paging``)."""

STRINGS = {
    "paging.explain": (
        """### Paged optimizers: a memory spike that does not stop the run
QLoRA's last idea (Dettmers et al. 2023). Training keeps four things in GPU memory: the **weights**,
the **gradients**, the **optimizer states** (AdamW keeps two fp32 numbers per trained parameter, its
moments m and v: 8 bytes per parameter) and the **activations** the forward pass saves for the backward pass.
Activations grow with the length of the sequences: one batch of long sequences makes a **spike**, and
on a GPU a spike above its memory ends the run with **out of memory** (OOM).

A **paged optimizer** (bitsandbytes' `PagedAdamW`) puts the optimizer states in **CUDA unified
memory**. When the GPU runs out, the driver moves their pages to CPU RAM; the optimizer fetches them
back right before its update uses them. The spike passes, and the price is the time of those moves
over PCIe (about 25 GB/s).

bitsandbytes pages a state only if its parameter has **at least 100,000 elements**; smaller ones stay
in ordinary GPU memory. So what paging can absorb depends on the method: full fine-tuning trains every
large matrix, LoRA only small adapter matrices.""",
        """### Bộ tối ưu phân trang (paged optimizers): đỉnh bộ nhớ không làm dừng lượt huấn luyện
Ý tưởng cuối cùng của QLoRA (Dettmers và cộng sự, 2023). Khi huấn luyện, bộ nhớ GPU chứa bốn thứ:
**trọng số**, **gradient**, **trạng thái bộ tối ưu (optimizer states)** (AdamW giữ hai số fp32 cho mỗi
tham số được huấn luyện, hai moment m và v: tổng cộng 8 byte cho mỗi tham số) và **giá trị kích hoạt (activations)** mà
lượt truyền xuôi lưu lại cho lượt truyền ngược. Giá trị kích hoạt tăng theo độ dài chuỗi: chỉ một lô
(batch) chuỗi dài cũng tạo ra một **đỉnh bộ nhớ (spike)**, và trên GPU, một đỉnh vượt quá bộ nhớ sẽ
kết thúc lượt huấn luyện vì **tràn bộ nhớ (OOM)**.

**Bộ tối ưu phân trang** (`PagedAdamW` của bitsandbytes) đặt trạng thái bộ tối ưu vào **bộ nhớ hợp nhất
của CUDA (unified memory)**. Khi GPU hết chỗ, driver chuyển tạm các trang của chúng sang RAM của CPU;
bộ tối ưu nạp chúng trở lại ngay trước khi bước cập nhật cần đến. Đỉnh bộ nhớ đi qua, cái giá phải trả
là thời gian di chuyển qua PCIe (khoảng 25 GB/s).

bitsandbytes chỉ phân trang trạng thái của tham số có **ít nhất 100,000 phần tử**; các trạng thái nhỏ
hơn nằm trong bộ nhớ GPU thông thường. Vì vậy phân trang hấp thụ được bao nhiêu còn tuỳ phương pháp:
tinh chỉnh toàn bộ (full fine-tuning) huấn luyện mọi ma trận lớn, LoRA chỉ huấn luyện các ma trận
adapter nhỏ.""",
    ),
    "paging.machine.cpu": (
        "**This machine has no GPU.** The lab measures, on this CPU, what a few real training steps of the "
        "bundled model hold in memory (its own accounting with tensor hooks, checked against the process's "
        "memory), then **replays** those steps on a GPU of the size you choose. The paging you see is a "
        "**simulation of a GPU built from memory measured here**, not a measurement of a GPU.",
        "**Máy này không có GPU.** Lab đo ngay trên CPU này lượng bộ nhớ mà vài bước huấn luyện thật của mô "
        "hình đi kèm chiếm giữ (lab tự ghi sổ bằng các hook gắn vào tensor, rồi đối chiếu với bộ nhớ của tiến "
        "trình), sau đó **phát lại** các bước ấy trên một GPU có dung lượng do bạn chọn. Việc phân trang bạn "
        "thấy là **mô phỏng một GPU dựng từ bộ nhớ đo được ở đây**, không phải số đo trên GPU.",
    ),
    "paging.machine.cuda": (
        "**This machine has a GPU ({gpu}).** The steps are measured on it with bitsandbytes' real "
        "`PagedAdamW`, and the timeline's line is `torch.cuda.memory_allocated` above the baseline (paged "
        "states live outside PyTorch's allocator, so the line leaves them out). The replay on a chosen budget "
        "below is still a **simulation** built from that measurement.",
        "**Máy này có GPU ({gpu}).** Các bước được đo trên GPU đó với `PagedAdamW` thật của bitsandbytes, và "
        "đường kẻ trên dòng thời gian là `torch.cuda.memory_allocated` so với mức nền (trạng thái được phân "
        "trang nằm ngoài bộ cấp phát của PyTorch nên đường kẻ không tính chúng). Phần phát lại với dung lượng "
        "bạn chọn bên dưới vẫn là **mô phỏng** dựng từ số đo đó.",
    ),
    "paging.measure": ("Measure full fine-tuning, LoRA and QLoRA", "Đo tinh chỉnh toàn bộ, LoRA và QLoRA"),
    "paging.status.ready": (
        "Nothing measured yet. **Measure** trains {steps} steps of each method on the bundled model, step "
        "{spike} on a batch of {tokens:,}-token sequences (a few minutes on a CPU; it waits for the training "
        "queue).",
        "Chưa đo gì. Nút **Đo** huấn luyện {steps} bước cho mỗi phương pháp trên mô hình đi kèm, bước {spike} "
        "dùng một lô chuỗi dài {tokens:,} token (vài phút trên CPU; việc đo xếp hàng chung với hàng đợi huấn "
        "luyện).",
    ),
    "paging.status.done": (
        "Measured in {time} on this machine ({device}): {n} methods x {steps} steps. Kept for this page: the "
        "sliders replay it at once, without measuring again.",
        "Đã đo xong trong {time} trên máy này ({device}): {n} phương pháp x {steps} bước. Kết quả được giữ cho "
        "trang này: các thanh trượt phát lại ngay, không cần đo lại.",
    ),
    "paging.status.cached": (
        "Already measured on this server with the same settings ({device}): {n} methods x {steps} steps, "
        "shown from memory. The sliders replay it at once.",
        "Máy chủ này đã đo với cùng thiết lập ({device}): {n} phương pháp x {steps} bước, hiển thị từ bộ nhớ. "
        "Các thanh trượt phát lại ngay.",
    ),
    "paging.progress.load": ("Loading the model for {method}…", "Đang nạp mô hình cho {method}…"),
    "paging.progress.step": ("{method}: step {step} of {steps} measured", "{method}: đã đo bước {step}/{steps}"),
    "paging.measure_first": (
        "Measure first: the replay needs the measured timelines.",
        "Hãy đo trước: phần phát lại cần các dòng thời gian đã đo.",
    ),
    "paging.heading.timeline": (
        "### 1. Memory of real training steps, measured here",
        "### 1. Bộ nhớ của các bước huấn luyện thật, đo tại đây",
    ),
    "paging.heading.replay": (
        "### 2. The same steps on a GPU budget (simulation)",
        "### 2. Cùng các bước đó trên một GPU có dung lượng giới hạn (mô phỏng)",
    ),
    "paging.heading.facts": (
        "### 3. What bitsandbytes' rule means for this model",
        "### 3. Quy tắc của bitsandbytes có ý nghĩa gì với mô hình này",
    ),
    "paging.heading.big": (
        "### LLaMA-65B with QLoRA on a {gpu:g} GB GPU (the calculator's figures, nothing to measure)",
        "### LLaMA-65B với QLoRA trên GPU {gpu:g} GB (số liệu của máy tính bộ nhớ, không cần đo)",
    ),
    "paging.choose_method": ("Method", "Phương pháp"),
    "paging.method.full": ("Full fine-tuning", "Tinh chỉnh toàn bộ"),
    "paging.method.lora": ("LoRA", "LoRA"),
    "paging.method.qlora": ("QLoRA", "QLoRA"),
    "paging.gpu": ("GPU memory (MB)", "Bộ nhớ GPU (MB)"),
    "paging.gpu.info": (
        "The simulated GPU's size. Below the run's peak, the run without paging stops.",
        "Dung lượng của GPU mô phỏng. Thấp hơn đỉnh của lượt chạy thì lượt chạy không phân trang sẽ dừng.",
    ),
    "paging.bandwidth_slider": ("PCIe bandwidth (GB/s)", "Băng thông PCIe (GB/s)"),
    "paging.bandwidth_slider.info": (
        "Between GPU and CPU RAM: PCIe 4.0 x16 gives about 25 GB/s in practice.",
        "Giữa GPU và RAM của CPU: PCIe 4.0 x16 thực tế đạt khoảng 25 GB/s.",
    ),
    "paging.timeline_plot": ("Memory timeline", "Dòng thời gian bộ nhớ"),
    "paging.replay_plot": ("Replay on the chosen GPU", "Phát lại trên GPU đã chọn"),
    "paging.states_plot": ("Optimizer-state sizes", "Kích thước trạng thái bộ tối ưu"),
    "paging.big_plot": ("LLaMA-65B replay", "Phát lại LLaMA-65B"),
    "paging.moves": (
        "Optimizer-state tensors moved over PCIe (paged optimizer)",
        "Các tensor trạng thái bộ tối ưu di chuyển qua PCIe (bộ tối ưu phân trang)",
    ),
    "paging.col.n": ("#", "#"),
    "paging.col.tensor": ("state tensor", "tensor trạng thái"),
    "paging.col.direction": ("moved", "chuyển"),
    "paging.col.when": ("when", "lúc"),
    "paging.col.mb": ("MB", "MB"),
    "paging.col.ms": ("time (ms)", "thời gian (ms)"),
    "paging.dir.cpu": ("to CPU RAM (evicted)", "sang RAM của CPU (bị đẩy ra)"),
    "paging.dir.gpu": ("back to the GPU (prefetched)", "về lại GPU (nạp trước)"),
    "paging.when": ("step {step}, {phase} ({label}), {t:.1f} {unit}", "bước {step}, {phase} ({label}), {t:.1f} {unit}"),
    "paging.phase.forward": ("forward", "truyền xuôi"),
    "paging.phase.backward": ("backward", "truyền ngược"),
    "paging.phase.optimizer": ("optimizer", "bộ tối ưu"),
    "paging.label.layer": ("layer {n}", "lớp {n}"),
    "paging.label.grad": ("grad {n}", "gradient thứ {n}"),
    "paging.label.start": ("start", "bắt đầu"),
    "paging.label.loss": ("loss", "loss"),
    "paging.label.backward_done": ("backward done", "xong truyền ngược"),
    "paging.label.step": ("step", "cập nhật"),
    "paging.label.zero_grad": ("zero_grad", "zero_grad"),
    "paging.unit.s": ("s", "s"),
    "paging.unit.step": ("steps", "bước"),
    "paging.check": (
        "At its peak (step {step}, {phase}, {label}) the ledger counts **{ledger:,.0f} MB**; the process held "
        "**{process:,.0f} MB** above its baseline at that moment (ledger / process = {ratio:.2f}). The gap is "
        "what the ledger leaves out: temporaries that live inside one operation, and the allocator's slack.",
        "Tại đỉnh (bước {step}, {phase}, {label}) sổ ghi của lab đếm được **{ledger:,.0f} MB**; lúc đó tiến "
        "trình giữ **{process:,.0f} MB** so với mức nền (sổ ghi / tiến trình = {ratio:.2f}). Phần chênh lệch là "
        "thứ sổ ghi bỏ qua: các giá trị tạm chỉ sống bên trong một phép tính, và phần dư của bộ cấp phát.",
    ),
    "paging.steps": ("Steps — {steps}.", "Các bước — {steps}."),
    "paging.step_info": (
        "{step}: {tokens:,} tokens, {seconds:.1f} s, loss {loss:.2f}",
        "{step}: {tokens:,} token, {seconds:.1f} s, loss {loss:.2f}",
    ),
    "paging.step_spike": (
        "**{step} (the long batch): {tokens:,} tokens**, {seconds:.1f} s, loss {loss:.2f}",
        "**{step} (lô chuỗi dài): {tokens:,} token**, {seconds:.1f} s, loss {loss:.2f}",
    ),
    "paging.replay.without": ("**Without paging:** {text}", "**Không phân trang:** {text}"),
    "paging.replay.with": ("**With a paged optimizer:** {text}", "**Với bộ tối ưu phân trang:** {text}"),
    "paging.replay.first_moves": (
        "The table lists the first {shown:,} of {n:,} moves.",
        "Bảng liệt kê {shown:,} lần di chuyển đầu tiên trong tổng số {n:,}.",
    ),
    "paging.facts.method": ("**{method}** — {facts}", "**{method}** — {facts}"),
    "paging.big.longest": (
        "The longest sequence one step may read on this {gpu:g} GB GPU (batch 1): **{no:,} tokens** without "
        "paging, **{yes:,} tokens** with a paged optimizer.",
        "Chuỗi dài nhất mà một bước có thể đọc trên GPU {gpu:g} GB này (lô 1 chuỗi): **{no:,} token** khi "
        "không phân trang, **{yes:,} token** với bộ tối ưu phân trang.",
    ),
    # figures (lab.plots_memory)
    "paging.fig.timeline.title": ("Memory during training: {method}, {model}",
                                  "Bộ nhớ khi huấn luyện: {method}, {model}"),
    "paging.fig.xlabel": ("time ({unit})", "thời gian ({unit})"),
    "paging.fig.timeline.ylabel": ("memory ({unit})", "bộ nhớ ({unit})"),
    "paging.fig.cat.weights": ("weights", "trọng số"),
    "paging.fig.cat.gradients": ("gradients", "gradient"),
    "paging.fig.cat.optimizer": ("optimizer states", "trạng thái bộ tối ưu"),
    "paging.fig.cat.activations": ("activations (saved for backward)",
                                   "giá trị kích hoạt (lưu cho truyền ngược)"),
    "paging.fig.cat.overhead": ("CUDA context (allowance)", "ngữ cảnh CUDA (dự phòng)"),
    "paging.fig.process.cpu": ("process memory (RSS above the baseline)", "bộ nhớ tiến trình (RSS trên mức nền)"),
    "paging.fig.process.cuda": ("torch.cuda.memory_allocated (above the baseline)",
                                "torch.cuda.memory_allocated (trên mức nền)"),
    "paging.fig.step": ("step {step}", "bước {step}"),
    "paging.fig.spike": ("long batch (activation spike)", "lô chuỗi dài (đỉnh kích hoạt)"),
    "paging.fig.replay.title": ("Simulation: the same steps on a {cap} GPU", "Mô phỏng: cùng các bước trên GPU {cap}"),
    "paging.fig.replay.without": ("Without paging", "Không phân trang"),
    "paging.fig.replay.with": ("With a paged optimizer", "Với bộ tối ưu phân trang"),
    "paging.fig.replay.ylabel": ("GPU memory ({unit})", "bộ nhớ GPU ({unit})"),
    "paging.fig.replay.capacity": ("GPU capacity", "dung lượng GPU"),
    "paging.fig.replay.demand": ("memory the run needs", "bộ nhớ lượt chạy cần"),
    "paging.fig.replay.not_reached": ("not reached (stopped)", "không tới được (đã dừng)"),
    "paging.fig.replay.oom": ("out of memory", "tràn bộ nhớ"),
    "paging.fig.replay.fixed": ("must stay on the GPU", "phải ở lại trên GPU"),
    "paging.fig.replay.paged_gpu": ("paged optimizer states on the GPU", "trạng thái phân trang đang ở GPU"),
    "paging.fig.replay.paged_cpu": ("paged out to CPU RAM", "đã chuyển sang RAM của CPU"),
    "paging.fig.replay.to_cpu": ("{size} to CPU", "{size} sang CPU"),
    "paging.fig.replay.to_gpu": ("{size} back to the GPU", "{size} về lại GPU"),
    "paging.fig.states.title": ("Which optimizer states a paged optimizer pages",
                                "Trạng thái nào được bộ tối ưu phân trang đưa vào bộ nhớ hợp nhất"),
    "paging.fig.states.xlabel": ("elements per state tensor (log scale)", "số phần tử mỗi tensor trạng thái (thang log)"),
    "paging.fig.states.ylabel": ("trained with", "huấn luyện bằng"),
    "paging.fig.states.threshold": ("paged from {threshold:,} elements (bitsandbytes)",
                                    "phân trang từ {threshold:,} phần tử (bitsandbytes)"),
    "paging.fig.states.count": ("{label}\n{paged:,} of {n:,} paged", "{label}\n{paged:,}/{n:,} được phân trang"),
    "paging.fig.states.paged": ("paged (unified memory)", "được phân trang (bộ nhớ hợp nhất)"),
    "paging.fig.states.kept": ("stays in GPU memory", "nằm yên trong bộ nhớ GPU"),
}

ERRORS = {
    # lab.paging: its checks
    "paging.optim_bits": "optim_bits phải là 8 hoặc 32, không phải {bits!r}.",
    "paging.no_targets": "Mô hình không có lớp tuyến tính nào tên là {names}.",
    "paging.method": "method phải là một trong: {options}; không phải {value!r}.",
    "paging.range": "{name} phải là số nguyên từ {lo:,} đến {hi:,}, không phải {value!r}.",
    "paging.spike_step": "Bước có đỉnh ({spike}) phải là một trong {steps} bước (hoặc 0: không có).",
    "paging.spike_tokens": "Lô chuỗi dài chỉ được chứa tối đa 4,096 token, không phải {tokens:,}.",
    "paging.state_mismatch": "Bộ tối ưu giữ {got:,} byte moment, không phải {want:,} byte như quy tắc phân trang "
                             "liệt kê.",
    "paging.capacity": "Dung lượng GPU phải là một số byte dương, không phải {value!r}.",
    "paging.bandwidth": "Băng thông phải là một số byte mỗi giây dương, không phải {value!r}.",
    # lab.paging: what a ledger and a replay say
    "paging.measured": "Đo trên máy này ({device}) bằng các hook gắn vào tensor; bộ nhớ tiến trình là {what} so với "
                       "mức nền trước khi nạp mô hình.",
    "paging.rss": "RSS",
    "paging.cuda_allocated": "bộ nhớ CUDA đã cấp phát",
    "paging.from_measured": "bộ nhớ đo trên máy này ({device})",
    "paging.from_estimate": "ước tính của máy tính bộ nhớ",
    "paging.simulation": "Mô phỏng dựng từ {source}, phát lại trên GPU {cap:.2f} GB với băng thông {bw:g} GB/s tới "
                         "RAM của CPU; việc phân trang theo quy tắc của bitsandbytes, di chuyển cả tensor trạng thái, "
                         "tensor lâu chưa dùng nhất đi trước.",
    "paging.oom_paged": "Tràn bộ nhớ ở bước {step} ({phase}, {label}): {need:.2f} GB phải ở lại trên GPU {cap:.2f} GB "
                        "ngay cả khi trạng thái bộ tối ưu đã được chuyển ra ngoài.",
    "paging.oom": "Tràn bộ nhớ ở bước {step} ({phase}, {label}): cần {need:.2f} GB tại đó, {peak:.2f} GB ở đỉnh của "
                  "bước, trên GPU {cap:.2f} GB.",
    "paging.fits": "Lượt chạy vừa: đỉnh của nó là {peak:.2f} GB trên GPU {cap:.2f} GB.",
    "paging.nothing_paged": "Không có gì được phân trang: không tensor nào trong {n:,} tensor trạng thái bộ tối ưu đạt "
                            "{threshold:,} phần tử (tensor lớn nhất có {largest:,}).",
    "paging.no_moves": "Lượt chạy vừa mà không phải di chuyển trang nào: {paged:.2f} GB trạng thái bộ tối ưu được phân "
                       "trang nhưng không bao giờ bị đẩy ra.",
    "paging.moved": "Lượt chạy hoàn thành: {n:,} tensor trạng thái bộ tối ưu ({out:.3f} GB) được chuyển sang RAM của "
                    "CPU ở bước {step} ({phase}) và {back:.3f} GB quay về cho bước cập nhật của bộ tối ưu: mất "
                    "{seconds:.3f} s qua PCIe ở {bw:g} GB/s.",
    "paging.fact_paged": "{n:,} trong {total:,} tensor trạng thái bộ tối ưu đạt {threshold:,} phần tử: bộ tối ưu phân "
                         "trang đặt chúng ({gb:.3f} GB) vào bộ nhớ hợp nhất; {rest:,} tensor còn lại ({small:.4f} GB) "
                         "nằm trong bộ nhớ GPU.",
    "paging.fact_none": "Không tensor nào trong {total:,} tensor trạng thái bộ tối ưu đạt {threshold:,} phần tử (tensor "
                        "lớn nhất có {largest:,}): bộ tối ưu phân trang không phân trang gì cả.",
    "paging.fact_rank": "Với LoRA trên mọi lớp tuyến tính của mô hình này, không có gì được phân trang cho tới r = {r}: "
                        "lớp rộng nhất có {d:,} đầu vào hoặc đầu ra, và {r} x {d:,} = {numel:,} < {threshold:,}.",
    "paging.fact_capacity": "GPU nhỏ nhất mà các bước này chạy xong: {no:.3f} GB khi không phân trang, {yes:.3f} GB với "
                            "bộ tối ưu phân trang.",
    "paging.estimated": "Dựng từ ước tính của máy tính bộ nhớ (lab.lora.memory), không phải số đo: {model}, {method}, "
                        "r={r}, lô {batch} x {seq} token, một bước dài {spike} token.",
    # field names (lab.checks.field)
    "field.the_training_method": "Phương pháp huấn luyện",
    "field.the_gpu_memory_mb": "Bộ nhớ GPU (MB)",
    "field.the_pcie_bandwidth_gb_s": "Băng thông PCIe (GB/s)",
}
