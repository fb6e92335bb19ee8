"""The model core: ops, layers, the StyleGAN2 networks, the freeze spec, checkpoints and foreign formats.

    ops -> layers -> networks -> freeze
                              -> checkpoint (+ nvlabs/: NVlabs pickles without their code) -> convert
"""
