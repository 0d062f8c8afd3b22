"""Training: the loss and the (distributed) training loop."""
