"""Native Emu2 / Emu2-Chat (BAAI) on current transformers, loading the published weights unchanged.

Modules, one purpose each: ``config`` (config.json), ``visual`` (EVA-02-CLIP-E), ``modeling``
(encoder + LLaMA decoder), ``loading`` (published checkpoint layout), ``placement`` (devices and
device maps), ``quantization`` (bitsandbytes), ``pretrained`` (from_pretrained), ``tokenization``,
``prompting``, ``preprocess``, ``generation`` (published defaults), ``adapter`` (the harness's
``emu2`` model) and ``remote`` (``emu2-remote``: the published trust_remote_code path).
Nothing heavy is imported here, so the registry can resolve adapters lazily.
"""
