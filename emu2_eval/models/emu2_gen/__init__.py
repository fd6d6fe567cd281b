"""Native Emu2-Gen (BAAI) on current diffusers and transformers, from the published layout.

Modules, one purpose each: ``layout`` (the BAAI/Emu2-Gen folders, hub or local), ``regression``
(the Emu2 encoder regressing visual embeddings from an interleaved prompt), ``sampling`` (SDXL-style
UNet + Euler + classifier-free guidance, VAE decoding to uint8) and ``adapter`` (the harness's
``emu2-gen`` model). Nothing heavy is imported here, so the registry resolves adapters lazily.
"""
