"""The math: layers, losses, initializers, optimizers and their schedules, metrics, the model.

Everything here is numpy and the hand-derived backward passes; it imports nothing of nntrain's
but `nntrain.errors`, and knows nothing of files, configs, displays or the command line.
Each subpackage registers its members in `nn.registry` when it is imported.
"""
