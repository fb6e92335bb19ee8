"""Training and fine-tuning: options, the losses (one object, a method per phase), the loop that
schedules them, EMA, ADA, optimisers over the trainable tensors, DDP, logs and the run folder."""
