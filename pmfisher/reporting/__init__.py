"""What a person reads: plots, the HTML report, the case-study runner, model files and the
command line."""
