"""One trained run measured and pictured: test-set metrics, latent metrics, the sample metrics'
classifier, the run's pictures."""
