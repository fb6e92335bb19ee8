"""Everything that finds a latent for an image, and the files that keep it.

    latents           Latent, LatentStats and the latent file format (save_latent / load_latent)
    projector         BaseProjector: what every recipe shares (batch, steps, run, result)
    stylegan2         the 2020 StyleGAN2 projector (`--recipe stylegan2`)
    staged            the default recipe (best start, W, then W+ offsets, noise last)
    recipes           recipes by name, make_projector, project_images
    distances         the projection distances (`--loss`)
    pipeline          Inversion: recipe + options + encoder start, used by translate, app, sweep
    encoder           the encoder network and its files (`--init ENC.pt`)
    encoder_training  self-supervised encoder training (`freezeg encoder train`)
    pivotal           shared blocks, pivotal tuning and tuning files (`--pivotal-tuning`)
    harness           `freezeg bench-inversion`
"""
