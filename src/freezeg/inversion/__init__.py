"""Inversion beyond the 2020 projector: the default recipe, an encoder for instant starts,
pivotal tuning of the blocks a FreezeG fine-tune shares with its source, and the harness that
measures them.

    staged            the default projection recipe (best start, W, then W+ offsets, noise last)
    recipes           recipes by name (`--recipe default|stylegan2`) and their projectors
    encoder           the encoder network and its files (`--init ENC.pt`)
    encoder_training  self-supervised encoder training (`freezeg encoder train`)
    pivotal           shared blocks, pivotal tuning and tuning files (`--pivotal-tuning`)
    harness           `freezeg bench-inversion`
"""
