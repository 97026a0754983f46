"""The model: encoder and decoder, the likelihoods p(x|z) and the ELBO, the importance-weighted
log-likelihood, the training loop and its checkpoints."""
