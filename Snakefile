# A reproducible study of convolutional variational autoencoders on MNIST.
# Run:  snakemake --cores 8   (see README.md; the default config is config/config.yaml)


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        f"{OUT}/report.html",
