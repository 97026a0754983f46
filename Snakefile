# The user's entry point: `snakemake --cores 8` from here runs the workflow of
# workflow/Snakefile (the snakemake-workflows catalog layout). See README.md.


include: "workflow/Snakefile"


# An included file's default target does not carry over (Snakemake): name it here.
rule default:
    default_target: True
    input:
        rules.all.input,
