"""The training loop: the Trainer and its callbacks, checkpoints for an exact resume, signal
handling, the progress display, and flush-to-zero while training.

It drives the math of `nntrain.nn` over the batches of `nntrain.data` and writes through
`nntrain.runs` (`writer.RunWriter`: the run folder after every epoch); `setup` builds what it trains from a parsed config (data, model, loss,
metrics); it knows nothing of YAML or the command line.
"""
