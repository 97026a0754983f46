"""The whole study: tables of runs, paired statistics, findings in words, the answer, what carries
over between datasets, the comparison plots."""
