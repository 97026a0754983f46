"""vaestudy: a convolutional variational autoencoder on MNIST and the pieces of the study
(data, model, likelihoods, training, evaluation, a run's pictures, the study's tables and
plots, report)."""

__version__ = "0.1.0"
