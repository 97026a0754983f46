"""vaestudy: a convolutional variational autoencoder on MNIST and the pieces of the study
(data, model, likelihoods, training, evaluation, figures, aggregation, report)."""

__version__ = "0.1.0"
