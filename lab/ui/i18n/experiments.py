"""Catalog: the Experiments tab (the training experiments; the paging panel has its own section)."""

STRINGS = {
    "exp.tab.runs": ("Training experiments", "Thí nghiệm huấn luyện"),
    "exp.tab.paging": ("Paged optimizers", "Bộ tối ưu phân trang"),
    "exp.intro": (
        """### The lecture's claims, measured here
Each experiment trains the bundled model several times on the same data, seed and steps, changing one
thing only, then compares the runs in one table. Read the claim, press **Run**, and see whether this
machine's numbers show it. A 135M model trained for a few dozen steps on one small dataset is not a
65B model trained for hours: when the numbers do not show what the lecture says, the sentences under
the table say so, and why.""",
        """### Kiểm chứng các khẳng định của bài giảng ngay tại đây
Mỗi thí nghiệm huấn luyện mô hình đi kèm vài lần trên cùng dữ liệu, cùng seed và cùng số bước, chỉ thay
đổi đúng một yếu tố, rồi so sánh các lượt trong một bảng. Hãy đọc khẳng định, bấm **Chạy**, và xem các con
số của máy này có cho thấy điều đó không. Một mô hình 135 triệu tham số huấn luyện vài chục bước trên một
bộ dữ liệu nhỏ không phải là mô hình 65B huấn luyện hàng giờ: khi các con số không cho thấy điều bài giảng
nói, các câu bên dưới bảng sẽ nói rõ như vậy, và giải thích vì sao.""",
    ),
    "exp.choose": ("Experiment", "Thí nghiệm"),
    "exp.name.peft": ("Full fine-tuning vs LoRA vs QLoRA", "Tinh chỉnh toàn bộ, LoRA và QLoRA"),
    "exp.name.rank": ("LoRA rank r", "Hạng r của LoRA"),
    "exp.name.masking": ("Loss masking", "Che loss"),
    "exp.claim": ("**The lecture's claim:** {claim}", "**Bài giảng khẳng định:** {claim}"),
    "exp.steps": ("Steps per condition", "Số bước mỗi lượt"),
    "exp.steps.info": ("the default fits the time limit on 2 CPU cores", "giá trị mặc định vừa giới hạn thời gian trên 2 lõi CPU"),
    "exp.method": ("Train with", "Huấn luyện bằng"),
    "exp.method.lora": ("LoRA (16/32-bit base)", "LoRA (mô hình gốc 16/32 bit)"),
    "exp.method.qlora": ("QLoRA (NF4 base)", "QLoRA (mô hình gốc NF4)"),
    "exp.alpha": ("Fixed alpha α", "Alpha α cố định"),
    "exp.alpha.info": ("empty: α = 2r at every rank", "để trống: α = 2r ở mọi hạng"),
    "exp.run": ("Run", "Chạy"),
    "exp.stop": ("Stop", "Dừng"),
    "exp.queue": (
        "Experiments share the training tab's queue: one run at a time on this server; yours waits for the "
        "one in progress.",
        "Các thí nghiệm dùng chung hàng đợi với thẻ huấn luyện: máy chủ chạy từng lượt một; lượt của bạn sẽ "
        "chờ lượt đang chạy.",
    ),
    "exp.table": ("The conditions side by side", "Các lượt đặt cạnh nhau"),
    "exp.conclusions": ("#### What the numbers show", "#### Các con số cho thấy điều gì"),
    "exp.samples.heading": (
        "#### What each model writes after the same held-out prompt\n*{prompt}* — special tokens shown, and "
        "generation not stopped at the end of the reply, so you see what comes after it.",
        "#### Mỗi mô hình viết gì sau cùng một câu hỏi chưa từng thấy\n*{prompt}* — hiện cả token đặc biệt, "
        "và không dừng sinh ở cuối câu trả lời, để bạn thấy điều gì đến sau nó.",
    ),
    "exp.cond.full": ("Full fine-tuning", "Tinh chỉnh toàn bộ"),
    "exp.cond.lora": ("LoRA (r = {r})", "LoRA (r = {r})"),
    "exp.cond.qlora": ("QLoRA (r = {r}, NF4)", "QLoRA (r = {r}, NF4)"),
    "exp.cond.completion": ("loss on the reply only", "chỉ tính loss trên câu trả lời"),
    "exp.cond.every_token": ("loss on every token", "tính loss trên mọi token"),
    "exp.col.condition": ("condition", "lượt"),
    "exp.col.trainable": ("trainable parameters (share)", "tham số huấn luyện được (tỉ lệ)"),
    "exp.col.memory": ("training memory (peak)", "bộ nhớ huấn luyện (đỉnh)"),
    "exp.col.split": ("of which", "trong đó"),
    "exp.col.speed": ("tokens / s", "token / giây"),
    "exp.col.loss": ("final loss", "loss cuối"),
    "exp.col.behaviour": ("behaviour (before → after)", "hành vi (trước → sau)"),
    "exp.col.probes": ("probes right (before → after)", "câu kiểm tra đúng (trước → sau)"),
    "exp.col.general": ("general-text loss change", "thay đổi loss trên văn bản chung"),
    "exp.col.saved": ("what you share", "thứ bạn chia sẻ"),
    "exp.col.alpha": ("α", "α"),
    "exp.col.directions": ("directions ΔW uses", "số hướng ΔW dùng"),
    "exp.col.trained_share": ("tokens with loss", "token được tính loss"),
    "exp.col.prompt_loss": ("loss on prompts", "loss trên câu hỏi"),
    "exp.col.after_reply": ("after its reply", "sau câu trả lời"),
    "exp.split": ("W {w:,.0f} · G {g:,.0f} · O {o:,.0f} · A {a:,.0f} MB",
                  "W {w:,.0f} · G {g:,.0f} · O {o:,.0f} · A {a:,.0f} MB"),
    "exp.saved.model": ("{mb:,.0f} MB: the whole model", "{mb:,.0f} MB: cả mô hình"),
    "exp.saved.adapter": ("{mb:,.1f} MB: an adapter", "{mb:,.1f} MB: một adapter"),
    "exp.directions": ("{nonzero} of r = {r} (90 % of the energy in {d90})",
                       "{nonzero} trên r = {r} (90 % năng lượng nằm trong {d90})"),
    "exp.after.turns": ("opens a new turn: {turns}", "mở một lượt mới: {turns}"),
    "exp.after.stopped": ("ends its turn and stops", "kết thúc lượt của nó và dừng"),
    "exp.after.no_end": ("never ends its reply", "không bao giờ kết thúc câu trả lời"),
    "exp.fig.title": ("Training loss of each condition", "Loss huấn luyện của từng lượt"),
    "exp.fig.empty": ("Press Run: each condition's loss appears here as it trains.",
                      "Bấm Chạy: loss của từng lượt sẽ hiện ở đây khi nó huấn luyện."),
    "exp.fig.svd.title": ("Singular values of the learned update ΔW = (α/r)·B·A of {module}",
                          "Các giá trị kỳ dị của cập nhật đã học ΔW = (α/r)·B·A của {module}"),
    "exp.fig.svd.xlabel": ("index of the singular value (largest first)",
                           "thứ tự giá trị kỳ dị (lớn nhất trước)"),
    "exp.fig.svd.ylabel": ("singular value σ (log scale)", "giá trị kỳ dị σ (thang log)"),
    "exp.status.idle": ("Choose an experiment and press **Run**.", "Chọn một thí nghiệm và bấm **Chạy**."),
    "exp.status.recorded": (
        "**Recorded result** at the default settings, measured on {date} ({cpu}, {cores} cores) in {seconds}. "
        "Press **Run** to measure it on this machine now.",
        "**Kết quả đã ghi lại** với thiết lập mặc định, đo ngày {date} ({cpu}, {cores} lõi) trong {seconds}. "
        "Bấm **Chạy** để đo lại ngay trên máy này.",
    ),
    "exp.status.running": (
        "**Condition {i} of {n}: {name}** — {what}  \n`{bar}` {pct:.0f} % · elapsed {elapsed} · ETA {eta}",
        "**Lượt {i} / {n}: {name}** — {what}  \n`{bar}` {pct:.0f} % · đã chạy {elapsed} · còn khoảng {eta}",
    ),
    "exp.status.loading": ("loading the model and the data…", "đang nạp mô hình và dữ liệu…"),
    "exp.status.step": ("step {step} / {steps}, loss {loss:.3f}", "bước {step} / {steps}, loss {loss:.3f}"),
    "exp.status.evaluating": ("evaluating: answering {done} / {total}", "đang đánh giá: trả lời {done} / {total}"),
    "exp.status.finished": ("**Finished**: {n} conditions in {seconds}.", "**Xong**: {n} lượt trong {seconds}."),
    "exp.status.stopped": ("**Stopped** after {done} finished conditions ({seconds}).",
                           "**Đã dừng** sau {done} lượt hoàn tất ({seconds})."),
    "exp.status.nothing_running": ("Nothing is running: press **Run** to start the experiment.",
                                   "Không có gì đang chạy: bấm **Chạy** để bắt đầu thí nghiệm."),
    "exp.status.stopping": ("**Stopping** the experiment after the current step…",
                            "**Đang dừng** thí nghiệm sau bước hiện tại…"),
}
