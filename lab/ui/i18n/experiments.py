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
    "exp.name.data_quality": ("Data quality vs quantity", "Chất lượng hay số lượng dữ liệu"),
    "exp.name.synthetic": ("Synthetic data", "Dữ liệu tổng hợp"),
    "exp.name.zero_shot": ("Zero-shot generalisation", "Khái quát hoá zero-shot"),
    "exp.train_synthetic": ("Also train on the pairs that pass", "Huấn luyện thêm trên các cặp vượt qua bộ lọc"),
    "exp.train_synthetic.info": ("off by default: a 135M model's own data teaches it little",
                                 "mặc định tắt: dữ liệu do chính mô hình 135 triệu tham số viết dạy nó rất ít"),
    "exp.cond.curated": ("curated (40 rows)", "đã tuyển chọn (40 dòng)"),
    "exp.cond.noisy": ("noisy (200 rows)", "nhiễu (200 dòng)"),
    "exp.cond.cleaned": ("noisy, cleaned", "nhiễu, đã làm sạch"),
    "exp.cond.synthetic": ("the surviving synthetic pairs", "các cặp tổng hợp còn lại"),
    "exp.cond.multitask": ("8 task types, one format", "8 loại tác vụ, một định dạng"),
    "exp.col.examples": ("rows trained on", "số dòng huấn luyện"),
    "exp.col.duplicates": ("duplicates", "dòng trùng"),
    "exp.col.off_style": ("off style", "sai phong cách"),
    "exp.col.mean_words": ("words per reply", "số từ mỗi câu trả lời"),
    "exp.col.behaviour_after": ("behaviour (held-out)", "hành vi (câu hỏi chưa từng thấy)"),
    "exp.col.correctness": ("answers correct", "câu trả lời đúng"),
    "exp.col.correctness_ba": ("answers correct (before → after)", "câu trả lời đúng (trước → sau)"),
    "exp.col.seen": ("seen task types (before → after)", "tác vụ đã thấy (trước → sau)"),
    "exp.col.unseen": ("unseen task types (before → after)", "tác vụ chưa từng thấy (trước → sau)"),
    "exp.cleaning.heading": ("#### The Clean step: {kept} of {rows} noisy rows kept",
                             "#### Bước làm sạch: giữ lại {kept} trên {rows} dòng nhiễu"),
    "exp.cleaning.counts": ("Removed, by reason: {counts}.", "Đã loại, theo lý do: {counts}."),
    "exp.cleaning.missed": ("**Kept though written bad ({n} rows)**: fluent replies in style that state a wrong "
                            "fact; no cheap filter sees them.",
                            "**Vẫn được giữ dù bị viết sai ({n} dòng)**: câu trả lời trôi chảy, đúng phong cách "
                            "nhưng nêu một sự thật sai; không bộ lọc rẻ tiền nào nhận ra."),
    "exp.cleaning.all": ("Every removed row ({n})", "Mọi dòng đã bị loại ({n})"),
    "exp.cleaning.col.row": ("row", "dòng"),
    "exp.cleaning.col.reason": ("why it was removed", "lý do bị loại"),
    "exp.cleaning.col.kind": ("what its author made it", "tác giả đã tạo nó thành"),
    "exp.cleaning.col.text": ("prompt → reply", "câu hỏi → câu trả lời"),
    "exp.kind.curated": ("curated", "đã tuyển chọn"),
    "exp.kind.duplicate": ("duplicate", "trùng lặp"),
    "exp.kind.near_duplicate": ("near-duplicate", "gần trùng"),
    "exp.kind.truncated": ("truncated", "bị cắt cụt"),
    "exp.kind.too_short": ("too short", "quá ngắn"),
    "exp.kind.too_long": ("too long", "quá dài"),
    "exp.kind.repetitive": ("looping", "lặp vòng"),
    "exp.kind.off_style": ("plain English", "tiếng Anh thường"),
    "exp.kind.off_topic": ("off topic", "lạc đề"),
    "exp.kind.wrong_arithmetic": ("wrong arithmetic", "tính sai"),
    "exp.kind.wrong_fact": ("wrong fact", "sai sự thật"),
    "exp.synthetic.heading": ("#### Synthetic candidates: {kept} of {n} kept ({total} asked)",
                              "#### Các cặp tổng hợp: giữ {kept} trên {n} ({total} được yêu cầu)"),
    "exp.synthetic.col.verdict": ("the filters' verdict", "kết luận của bộ lọc"),
    "exp.synthetic.col.instruction": ("instruction (or the raw text)", "chỉ dẫn (hoặc văn bản thô)"),
    "exp.synthetic.col.response": ("response", "câu trả lời"),
    "exp.synthetic.kept": ("**kept**", "**giữ lại**"),
    "exp.task.heading": ("#### The behaviour per task type, before and after training",
                         "#### Hành vi theo từng loại tác vụ, trước và sau huấn luyện"),
    "exp.task.col.task": ("task type", "loại tác vụ"),
    "exp.task.col.seen": ("in training", "có trong huấn luyện"),
    "exp.task.col.n": ("prompts", "số câu hỏi"),
    "exp.task.col.before": ("before", "trước"),
    "exp.task.col.after": ("after", "sau"),
    "exp.task.seen": ("seen", "đã thấy"),
    "exp.task.unseen": ("**never seen**", "**chưa từng thấy**"),
    "exp.task.summarise": ("summarise", "tóm tắt"),
    "exp.task.translate": ("translate", "dịch"),
    "exp.task.code": ("write code", "viết code"),
    "exp.task.maths": ("solve maths", "giải toán"),
    "exp.task.list": ("make a list", "lập danh sách"),
    "exp.task.rewrite": ("rewrite", "viết lại"),
    "exp.task.explain": ("explain", "giải thích"),
    "exp.task.extract": ("extract a fact", "trích xuất thông tin"),
    "exp.task.classify": ("classify", "phân loại"),
    "exp.task.poem": ("write a poem", "viết thơ"),
    "exp.status.generating": ("**Generating synthetic pairs**: {done} / {total}  \n`{bar}`",
                              "**Đang sinh các cặp tổng hợp**: {done} / {total}  \n`{bar}`"),
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
    "exp.status.between": ("{done} condition(s) done; the next one is loading…",
                           "Đã xong {done} lượt; lượt tiếp theo đang được nạp…"),
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

ERRORS = {
    # lab.experiments: titles, claims and refusals
    "experiment.peft.title": "Tinh chỉnh toàn bộ, LoRA và QLoRA",
    "experiment.peft.claim": (
        "Tinh chỉnh toàn bộ phải giữ trọng số, gradient và hai trạng thái AdamW cho mọi tham số; LoRA chỉ "
        "huấn luyện một phần nhỏ trong số đó, còn QLoRA lưu thêm mô hình gốc bị đóng băng ở 4 bit, nên chúng "
        "cần ít bộ nhớ hơn nhiều, ít quên kiến thức cũ hơn, và chỉ phải chia sẻ một adapter vài MB thay vì cả "
        "mô hình, với chất lượng tương đương."),
    "experiment.rank.title": "Hạng của LoRA",
    "experiment.rank.claim": (
        "Cập nhật mà một lần tinh chỉnh cần có hạng thấp: ΔW = (alpha/r)·B·A với r nhỏ học được gần như tốt "
        "bằng r lớn, với số tham số huấn luyện được ở mỗi lớp ít hơn d / r lần."),
    "experiment.masking.title": "Che loss",
    "experiment.masking.claim": (
        "SFT chỉ tính loss trên câu trả lời: huấn luyện cả trên câu hỏi sẽ dồn loss vào phần văn bản mà mô "
        "hình không bao giờ phải viết, và dạy nó viết câu hỏi."),
    "experiment.data_quality.title": "Chất lượng hay số lượng dữ liệu",
    "experiment.data_quality.claim": (
        "Một ít mẫu tốt hơn nhiều mẫu tầm thường (LIMA: 1.000 mẫu được tuyển chọn): một bộ nhỏ có mọi câu trả "
        "lời đúng và đúng phong cách dạy hành vi tốt hơn gấp năm lần số dòng có dòng trùng, câu trả lời sai và "
        "câu trả lời sai phong cách, và làm sạch bộ lớn lấy lại được phần lớn khoảng cách đó."),
    "experiment.synthetic.title": "Dữ liệu tổng hợp và kiểm soát chất lượng",
    "experiment.synthetic.claim": (
        "Một mô hình có thể tự viết dữ liệu huấn luyện cho mình (Self-Instruct, Alpaca): rẻ, nhưng phải kiểm tra "
        "từng cặp, vì mô hình sinh ra các dòng sai định dạng, lặp lại và sai nội dung."),
    "experiment.zero_shot.title": "Khái quát hoá zero-shot",
    "experiment.zero_shot.claim": (
        "Một mô hình được tinh chỉnh theo chỉ dẫn trên nhiều tác vụ mang điều đã học sang cả những tác vụ chưa "
        "từng thấy: hành vi dạy trên tám loại tác vụ xuất hiện ở hai loại tác vụ không có trong huấn luyện."),
    "experiment.flag": "{name} phải là true hoặc false, không phải {value!r}.",
    "experiment.data_quality.sets": (
        "Bộ nhiễu có {rows} dòng: {dup} dòng lặp lại y hệt hoặc gần y hệt một dòng trước đó, và {off:.0%} câu "
        "trả lời không theo giọng cướp biển. Bước làm sạch giữ lại {kept} dòng; {missed} trong số đó là những "
        "dòng cố ý viết sai (câu trả lời trôi chảy, đúng phong cách nhưng nêu một sự thật sai), điều mà không bộ "
        "lọc rẻ tiền nào nhận ra."),
    "experiment.data_quality.curated_better": (
        "Huấn luyện cùng {steps} bước, {rc} dòng đã tuyển chọn dạy hành vi tốt hơn {rn} dòng nhiễu: {c:.0%} so "
        "với {n:.0%} trong {prompts} câu trả lời cho câu hỏi chưa từng thấy nói giọng cướp biển và đúng câu "
        "hỏi, đúng như bài giảng nói."),
    "experiment.data_quality.noisy_better": (
        "Ở đây bộ nhiễu đạt điểm cao hơn: {n:.0%} so với {c:.0%} của các dòng đã tuyển chọn, trên {prompts} câu "
        "hỏi chưa từng thấy. Phần lớn các dòng nhiễu vẫn theo giọng cướp biển, và {steps} bước với {read} mẫu đọc "
        "đi đọc lại một số dòng: lượt chạy này không cho thấy khẳng định của bài giảng."),
    "experiment.data_quality.close": (
        "Bộ đã tuyển chọn và bộ nhiễu đạt điểm gần như nhau ({c:.0%} và {n:.0%} trong {prompts} câu trả lời cho "
        "câu hỏi chưa từng thấy): phần lớn các dòng nhiễu vẫn theo giọng cướp biển, và {steps} bước chỉ đọc "
        "{read} mẫu; khoảng cách mà bài giảng mô tả cần huấn luyện lâu hơn mới hiện ra."),
    "experiment.data_quality.cleaned_recovers": (
        "Huấn luyện trên {k} dòng mà bước làm sạch giữ lại, mô hình đạt {cl:.0%} (đã tuyển chọn {c:.0%}, nhiễu "
        "{n:.0%}): lọc bộ nhiễu đã lấy lại phần lớn điều mà bộ đã tuyển chọn dạy được."),
    "experiment.data_quality.cleaned_same": (
        "Huấn luyện trên {k} dòng mà bước làm sạch giữ lại, mô hình đạt {cl:.0%} (đã tuyển chọn {c:.0%}, nhiễu "
        "{n:.0%}): trong lượt chạy này, làm sạch không thay đổi điểm hành vi bao nhiêu."),
    "experiment.data_quality.correctness_worse": (
        "Độ đúng của câu trả lời trên cùng các câu hỏi: đã tuyển chọn {c:.0%}, nhiễu {n:.0%}, đã làm sạch "
        "{cl:.0%}. Các câu trả lời sai trong các dòng nhiễu đã làm mất những câu trả lời đúng, và bộ đã làm sạch vẫn "
        "giữ những dòng nêu sự thật sai mà không bộ lọc rẻ tiền nào nhận ra."),
    "experiment.data_quality.correctness_same": (
        "Độ đúng của câu trả lời trên cùng các câu hỏi: đã tuyển chọn {c:.0%}, nhiễu {n:.0%}, đã làm sạch "
        "{cl:.0%}. Mô hình gốc vốn đã biết những sự thật này, và {steps} bước trên các sự thật sai chưa làm nó "
        "quên đi."),
    "experiment.synthetic.survived": (
        "{kept} trên {n} cặp được sinh ra đã vượt qua bộ lọc. Lý do loại phổ biến nhất: {reason} ({count} trên {n})."),
    "experiment.synthetic.all_kept": (
        "Cả {n} cặp được sinh ra đều vượt qua bộ lọc: chúng đúng định dạng, điều đó không nói gì về việc chúng "
        "có đúng sự thật hay không."),
    "experiment.synthetic.trained": (
        "Huấn luyện trên {k} cặp còn lại trong {steps} bước: độ đúng trên {prompts} câu hỏi chưa từng thấy đi từ "
        "{b:.0%} đến {a:.0%}."),
    "experiment.reason.synthetic.unparsed": "không có cặp chỉ dẫn / câu trả lời nào trong văn bản",
    "experiment.reason.synthetic.copies_seed": "bản sao của một tác vụ mẫu",
    "experiment.reason.quality.too_short": "câu trả lời quá ngắn",
    "experiment.reason.quality.too_long": "câu trả lời quá dài",
    "experiment.reason.quality.truncated": "câu trả lời bị cắt cụt",
    "experiment.reason.quality.repetitive": "câu trả lời lặp lại chính nó",
    "experiment.reason.quality.off_style": "câu trả lời sai phong cách",
    "experiment.reason.quality.off_topic": "câu trả lời lạc đề",
    "experiment.reason.quality.wrong_arithmetic": "tính sai",
    "experiment.reason.quality.duplicate": "trùng hoàn toàn",
    "experiment.reason.quality.near_duplicate": "gần trùng",
    "experiment.zero_shot.seen": (
        "Trên {k} loại tác vụ mô hình được huấn luyện, hành vi đi từ {b:.0%} đến {a:.0%} số câu hỏi chưa từng "
        "thấy sau {steps} bước."),
    "experiment.zero_shot.reached": (
        "Trên các loại tác vụ chưa từng thấy ({names}), từ {b:.0%} đến {a:.0%} ({tagged} trên {n} câu trả lời mở "
        "đầu bằng thẻ): hành vi đã đến được những tác vụ không có trong huấn luyện, đúng như bài giảng nói."),
    "experiment.zero_shot.not_reached": (
        "Trên các loại tác vụ chưa từng thấy ({names}), từ {b:.0%} đến {a:.0%} ({tagged} trên {n} câu trả lời mở "
        "đầu bằng thẻ): trong lượt chạy này hành vi chưa lan sang chúng."),
    "experiment.zero_shot.format": (
        "Thứ được mang sang ở đây là một định dạng: bộ chấm kiểm tra thẻ, câu trả lời không lặp vòng và có nói về "
        "câu hỏi, chứ không kiểm tra tác vụ có được làm đúng hay không."),
    "experiment.unknown": "Không có thí nghiệm {name!r}; hãy chọn {choices}.",
    "experiment.dataset": "Các thí nghiệm cần một bộ dữ liệu có điểm hành vi: {choices}; không phải {value!r}.",
    "experiment.method": "Thí nghiệm hạng và che loss huấn luyện bằng lora hoặc qlora, không phải {value!r}.",
    "experiment.number": "{name} phải là một số từ {lo:g} đến {hi:g}, không phải {value!r}.",
    "experiment.whole_number": "{name} phải là số nguyên từ {lo:,} đến {hi:,}, không phải {value!r}.",
    "experiment.ranks": "Hãy cho từ 1 đến {most} hạng khác nhau, không phải {ranks}.",
    "experiment.svd_module": "{value!r} không phải tên một mô-đun (chỉ gồm chữ, số và _).",
    "experiment.svd_module_missing": "Mô hình không có lớp LoRA nào tên {module}.",
    "experiment.svd_layer_missing": "Không có lớp {layer} nào mang LoRA {module}; các lớp đánh số từ 0 đến {last}.",
    # lab.experiments.conclusions: what the numbers show
    "experiment.peft.memory": (
        "Huấn luyện tốn {full:,.0f} MB với tinh chỉnh toàn bộ, {lora:,.0f} MB với LoRA và {qlora:,.0f} MB với "
        "QLoRA (đỉnh bộ nhớ tính trên mức của tiến trình trước khi nạp mô hình), đúng như bài giảng nói: tinh "
        "chỉnh toàn bộ còn giữ thêm {states:,.0f} MB gradient và trạng thái AdamW cho cả {n:,} tham số, LoRA "
        "chỉ cho {share:.1%} trong số đó, còn QLoRA giữ trọng số bị đóng băng ở 4 bit ({qw:,.0f} MB thay vì "
        "{lw:,.0f} MB)."),
    "experiment.peft.memory_unordered": (
        "Bộ nhớ huấn luyện không giảm theo thứ tự bài giảng nói (tinh chỉnh toàn bộ {full:,.0f} MB, LoRA "
        "{lora:,.0f} MB, QLoRA {qlora:,.0f} MB): với mô hình 135 triệu tham số, trọng số bị đóng băng nhỏ "
        "({lw:,.0f} MB cho mô hình gốc của LoRA, {qw:,.0f} MB ở 4 bit) so với giá trị kích hoạt của một bước, "
        "nên các tensor tạm của một bước (QLoRA giải lượng tử từng trọng số khi nhân) có thể lấn át phần chênh "
        "lệch đó."),
    "experiment.peft.quality_close": (
        "Điểm hành vi gần nhau (toàn bộ {full:.0%}, LoRA {lora:.0%}, QLoRA {qlora:.0%} trên {prompts} câu hỏi "
        "chưa từng thấy): huấn luyện {share:.2%} số tham số đã dạy được hành vi gần như tốt bằng huấn luyện tất "
        "cả."),
    "experiment.peft.quality_apart": (
        "Điểm hành vi khác nhau (toàn bộ {full:.0%}, LoRA {lora:.0%}, QLoRA {qlora:.0%}; thấp nhất: {worst}): "
        "sau {steps} bước trên một bộ dữ liệu nhỏ, mỗi phương pháp một tốc độ học, kết quả này nói về các thiết "
        "lập đó nhiều hơn là về bản thân các phương pháp — \"chất lượng tương đương\" trong bài giảng là cho "
        "các lượt đã được tinh chỉnh kỹ."),
    "experiment.peft.forgetting_little": (
        "Không phương pháp nào quên nhiều ở đây (câu kiểm tra bị mất: toàn bộ {f_full:.0%}, LoRA {f_lora:.0%}, "
        "QLoRA {f_qlora:.0%}; thay đổi loss trên văn bản chung: {d_full:+.2f}, {d_lora:+.2f}, {d_qlora:+.2f} "
        "nats/token): {steps} bước ở các tốc độ học này hầu như không làm mô hình dịch chuyển; khẳng định của "
        "bài giảng là về huấn luyện dài, khi mọi trọng số đều trôi đi."),
    "experiment.peft.forgetting_more": (
        "Tinh chỉnh toàn bộ làm xáo trộn nhiều hơn những gì mô hình đã biết: nó mất {f_full:.0%} trong {probes} "
        "câu kiểm tra mà mô hình từng trả lời đúng, và loss trên văn bản chung đổi {d_full:+.2f} nats/token, so "
        "với {f_lora:.0%} và {d_lora:+.2f} của LoRA, {f_qlora:.0%} và {d_qlora:+.2f} của QLoRA."),
    "experiment.peft.forgetting_adapters_too": (
        "Ở đây các adapter quên nhiều bằng hoặc hơn tinh chỉnh toàn bộ (câu kiểm tra bị mất: toàn bộ "
        "{f_full:.0%}, LoRA {f_lora:.0%}, QLoRA {f_qlora:.0%}; thay đổi loss trên văn bản chung: {d_full:+.2f}, "
        "{d_lora:+.2f}, {d_qlora:+.2f} nats/token): với tốc độ học gấp {ratio:g} lần của tinh chỉnh toàn bộ, "
        "trên mọi lớp tuyến tính, {steps} bước LoRA đã thay đổi câu trả lời nhiều như vậy. LoRA quên ít hơn khi "
        "cùng chất lượng và cùng ngân sách học; lượt chạy này không cho thấy điều đó."),
    "experiment.rank.params": (
        "Số tham số huấn luyện được tăng tỉ lệ với r: {p_lo:,} ở r = {r_lo} và {p_hi:,} ở r = {r_hi} "
        "({share_hi:.2%} mô hình)."),
    "experiment.rank.low_enough": (
        "Hạng {r_lo} đã đạt điểm hành vi {s_lo:.0%} (tốt nhất: {s_best:.0%} ở r = {r_best}): thay đổi mà hành vi "
        "này cần có hạng thấp, đúng như LoRA giả định."),
    "experiment.rank.higher_helped": (
        "Ở đây hạng cao hơn đã giúp ích: {s_lo:.0%} ở r = {r_lo} so với {s_best:.0%} ở r = {r_best}. Chỉ với "
        "{steps} bước, hạng nhỏ có ít tham số để dịch chuyển ở mỗi bước hơn; khẳng định của bài giảng là về "
        "điểm mà huấn luyện đạt tới, không phải tốc độ đạt tới."),
    "experiment.masking.share": (
        "Huấn luyện chỉ trên câu trả lời đặt loss lên {c:.0%} số token nó đọc; huấn luyện trên mọi token đặt "
        "lên {n:.0%}, cả các câu hỏi. Loss huấn luyện của chúng ({lc:.2f} và {ln:.2f}) không so sánh được: mỗi "
        "con số là trung bình trên những token khác nhau."),
    "experiment.masking.sample.both_turns": (
        "cả hai mô hình đều viết tiếp sau câu trả lời sang một lượt user mới, như mô hình gốc trò chuyện này "
        "vẫn làm khi không có gì dừng nó ở <|im_end|>"),
    "experiment.masking.sample.completion_turn": (
        "mô hình chỉ học trên câu trả lời đã viết tiếp sang một lượt user mới (như mô hình gốc vẫn làm), mô "
        "hình kia thì không"),
    "experiment.masking.sample.neither": "không mô hình nào viết tiếp quá cuối câu trả lời",
    "experiment.masking.sample.none_no_end": "mô hình học trên mọi token không kết thúc câu trả lời trong {tokens} token",
    "experiment.masking.sample.none_turn": (
        "chỉ mô hình học trên mọi token viết tiếp sau câu trả lời sang một lượt user mới (<|im_start|>user)"),
    # lab.data_quality and lab.synthetic: why a row is dropped
    "quality.too_short": "câu trả lời quá ngắn: {words} từ, ít hơn {min_words}",
    "quality.too_long": "câu trả lời quá dài: {words} từ, nhiều hơn {max_words}",
    "quality.truncated": "câu trả lời bị cắt giữa câu: “…{tail}”",
    "quality.repetitive": "câu trả lời lặp lại chính nó ({why})",
    "quality.off_style": "câu trả lời không theo phong cách của bộ dữ liệu ({style})",
    "quality.off_topic": "câu trả lời không có từ nội dung nào chung với câu hỏi",
    "quality.wrong_arithmetic": "{expression} bằng {result}, nhưng câu trả lời không nói vậy",
    "quality.duplicate": "trùng hoàn toàn với dòng {row}",
    "quality.near_duplicate": "gần trùng với dòng {row} ({similarity:.0%} số từ giống nhau)",
    "quality.bad_threshold": "Ngưỡng gần trùng phải nằm trong (0, 1], không phải {value}.",
    "quality.style": "Không có phong cách {style!r}; hãy chọn một trong: {choices}.",
    "quality.word_bounds": "Giới hạn số từ phải là số nguyên với 0 <= min <= max (nhận được {min_words} và {max_words}).",
    "synthetic.caveat": (
        "Dữ liệu do chính một mô hình 135 triệu tham số viết dạy nó rất ít: nó chỉ nói lại điều nó đã làm, "
        "thường là sai, và các bộ lọc chỉ kiểm tra hình thức, không kiểm tra sự thật. 52 nghìn cặp của Alpaca "
        "đến từ một mô hình 175B dạy một mô hình 7B."),
    "synthetic.copies_seed": "lặp lại tác vụ mẫu {seed} ({similarity:.0%} số từ giống nhau)",
    "synthetic.unparsed": "không có cặp “Instruction: … Response: …” nào trong văn bản",
}
